package jbtrfs.spacecache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.alloc.BlockGroup;
import jbtrfs.alloc.BlockGroups;
import jbtrfs.ctree.BTree;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.FreeSpaceHeader;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.volumes.Volume;

/**
 * Reads the v1 space cache of every block group at mount and holds it against the free space the extent tree
 * gives (≈ load_free_space_cache, stricter: the kernel only compares the totals). A cache is used only when every
 * check passes and its ranges are exactly the extent tree's; any other cache is reported with why, and its block
 * group is marked for a fresh cache at the next commit.
 */
public final class SpaceCacheLoader {
    private static final Logger LOG = LoggerFactory.getLogger(SpaceCacheLoader.class);

    /** One block group's cache as found at mount. */
    public enum State { VALID, MISSING, INVALID }

    /** What the mount found of one block group's cache. */
    public record Result(long blockGroup, State state, String why) {
    }

    private SpaceCacheLoader() {
    }

    /**
     * Loads and checks the cache of every group of at least {@link SpaceCachePages#MIN_GROUP} bytes.
     * {@code clearCache} (the kernel's clear_cache) distrusts all of them.
     */
    public static Map<Long, Result> load(BTree rootTree, Volume volume, BlockGroups groups, long generation,
                                         long cacheGeneration, int sectorsize, boolean clearCache) throws FsException {
        Map<Long, Result> out = new LinkedHashMap<>();
        // 0 and -1 (mkfs): no cache was ever written
        boolean none = cacheGeneration == 0 || cacheGeneration == -1L;
        String all = clearCache ? "clear_cache asked for new caches"
                : none ? "no cache written yet" : cacheGeneration != generation ? "the superblock's cache generation " + Long.toUnsignedString(
                cacheGeneration) + " is not its generation " + generation : null;
        int valid = 0;
        for (BlockGroup bg : groups.all()) {
            if (bg.length() < SpaceCachePages.MIN_GROUP) continue;
            Result r;
            try {
                r = all != null ? new Result(bg.start(), none && !clearCache ? State.MISSING : State.INVALID, all)
                        : loadOne(rootTree, volume, bg, sectorsize);
            } catch (IOException e) {
                r = new Result(bg.start(), State.INVALID, "reading it failed: " + e.getMessage());
            }
            out.put(bg.start(), r);
            if (r.state() == State.VALID) {
                valid++;
            } else {
                bg.markForRewrite();
                if (r.state() == State.INVALID && all == null) {
                    LOG.warn("free space cache of block group {} not used: {}; rebuilt from the extent tree, "
                            + "rewritten at the next commit", bg.start(), r.why());
                }
            }
        }
        if (all != null && !none && !out.isEmpty()) LOG.info("free space caches not used: {}; rebuilt from the extent tree", all);
        LOG.debug("free space caches: {} of {} block groups loaded", valid, out.size());
        return out;
    }

    private static Result loadOne(BTree rootTree, Volume volume, BlockGroup bg, int sectorsize)
            throws FsException, IOException {
        Cursor h = rootTree.find(FreeSpaceHeader.key(bg.start()));
        if (h == null) return new Result(bg.start(), State.MISSING, "no cache");
        FreeSpaceHeader header = h.decode(FreeSpaceHeader.SIZE, FreeSpaceHeader::read);
        Cursor ic = rootTree.find(header.location());
        if (ic == null) return invalid(bg, "its inode " + header.location().objectid() + " is missing");
        InodeItem inode = ic.decode(InodeItem.SIZE, InodeItem::read);
        if (inode.generation() == 0 || inode.size() == 0) return new Result(bg.start(), State.MISSING,
                "marked invalid by its writer");
        if (inode.generation() != header.generation()) {
            return invalid(bg, "inode generation " + inode.generation() + " does not match cache generation "
                    + header.generation());
        }
        if (header.numEntries() == 0) return new Result(bg.start(), State.MISSING, "no entries");
        if (inode.size() > Integer.MAX_VALUE / 2) return invalid(bg, "cache file of " + inode.size() + " bytes");
        byte[] file = readFile(rootTree, volume, header.location().objectid(), (int) inode.size());
        if (file == null) return invalid(bg, "its file extents do not cover it");
        List<long[]> cached;
        try {
            cached = SpaceCachePages.decode(file, header.numEntries(), header.numBitmaps(), header.generation(),
                    bg.start(), bg.length(), sectorsize);
        } catch (SpaceCachePages.InvalidCacheException e) {
            return invalid(bg, e.getMessage());
        }
        List<long[]> truth = bg.freeAfterCommit();
        if (!sameRanges(cached, truth)) {
            long cachedBytes = 0;
            for (long[] r : cached) cachedBytes += r[1];
            return invalid(bg, "it lists " + cachedBytes + " free bytes in " + cached.size()
                    + " ranges, the extent tree leaves " + bg.freeBytes() + " free in " + truth.size());
        }
        return new Result(bg.start(), State.VALID, null);
    }

    private static Result invalid(BlockGroup bg, String why) {
        return new Result(bg.start(), State.INVALID, why);
    }

    /** The cache file's bytes from its regular extents, or null when they leave a gap or are not regular. */
    private static byte[] readFile(BTree rootTree, Volume volume, long ino, int size) throws FsException,
            IOException {
        byte[] file = new byte[size];
        long covered = 0;
        Cursor c = rootTree.seek(new Key(ino, KeyType.EXTENT_DATA, 0));
        while (c.valid() && c.key().objectid() == ino && c.key().type() == KeyType.EXTENT_DATA) {
            FileExtentItem fe = c.decode(FileExtentItem::read);
            if (fe.type() != FileExtentItem.TYPE_REG || fe.compression() != 0 || fe.isHole()
                    || c.key().offset() != covered || covered + fe.numBytes() > size) {
                return null;
            }
            ByteBuffer dst = ByteBuffer.wrap(file, (int) covered, (int) fe.numBytes());
            volume.read(fe.diskBytenr() + fe.offset(), dst, 0);
            covered += fe.numBytes();
            c.next();
        }
        return covered == size ? file : null;
    }

    private static boolean sameRanges(List<long[]> a, List<long[]> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i)[0] != b.get(i)[0] || a.get(i)[1] != b.get(i)[1]) return false;
        }
        return true;
    }
}
