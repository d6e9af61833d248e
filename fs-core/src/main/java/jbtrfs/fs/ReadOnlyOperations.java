package jbtrfs.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.SuperBlock;

/** {@link FsOperations} over an image opened read-only: each call is a few tree searches, no shared mutable state. */
final class ReadOnlyOperations implements FsOperations {
    private final InodeId root;
    private final Inodes inodes;
    private final Directories directories;
    private final FileData fileData;
    private final Xattrs xattrs;
    private final SpaceReport space;
    private final SeekData seekData;
    private final TreeSearch treeSearch;
    private final SuperBlock superBlock;
    /** Attached once the mount knows how a scrub keeps commits out (a read-write mount's lock). */
    private volatile Scrubber scrubber;

    ReadOnlyOperations(InodeId root, Inodes inodes, Directories directories, FileData fileData, Xattrs xattrs,
                       SpaceReport space, SeekData seekData, TreeSearch treeSearch, SuperBlock superBlock) {
        this.root = root;
        this.inodes = inodes;
        this.directories = directories;
        this.fileData = fileData;
        this.xattrs = xattrs;
        this.space = space;
        this.seekData = seekData;
        this.treeSearch = treeSearch;
        this.superBlock = superBlock;
    }

    @Override
    public InodeId root() { return root; }

    void attachScrubber(Scrubber s) { this.scrubber = s; }

    @Override
    public Scrubber scrubber() throws FsException {
        Scrubber s = scrubber;
        if (s == null) throw new FsException(Errno.EOPNOTSUPP, "scrub");
        return s;
    }

    @Override
    public long defaultSubvolume() throws FsException { return inodes.subvolumes().defaultSubvolume(); }

    @Override
    public SubvolumeInfo subvolumeInfo(long subvol) throws FsException { return inodes.subvolumes().info(subvol); }

    @Override
    public InodeId lookup(InodeId dir, String name) throws FsException {
        return directories.lookup(dir, name);
    }

    @Override
    public InodeId lookupIfExists(InodeId dir, String name) throws FsException {
        return directories.lookupIfExists(dir, name);
    }

    @Override
    public InodeId parentDirectory(InodeId dir) throws FsException {
        return directories.parent(dir);
    }

    @Override
    public InodeId resolve(String path) throws FsException {
        InodeId cur = root;
        for (String part : path.split("/")) {
            if (part.isEmpty() || part.equals(".")) continue;
            cur = directories.lookup(cur, part);
        }
        return cur;
    }

    @Override
    public Stat stat(InodeId id) throws FsException {
        return inodes.stat(id);
    }

    @Override
    public long fileFlags(InodeId id) throws FsException {
        return InodeFlags.toFsFlags(inodes.item(id).flags());
    }

    @Override
    public List<DirEntry> readdir(InodeId dir, long offset, int max) throws FsException {
        return directories.readdir(dir, offset, max, inodes);
    }

    @Override
    public String readlink(InodeId id) throws FsException {
        InodeItem inode = inodes.item(id);
        if ((inode.mode() & Stat.S_IFMT) != Stat.S_IFLNK) {
            throw new FsException(Errno.EINVAL, "inode " + id + " is not a symbolic link");
        }
        try {
            return fileData.readlink(id, inode);
        } catch (FsException e) {
            throw e;
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "reading link " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public int read(InodeId file, long offset, ByteBuffer dst) throws FsException {
        try {
            return fileData.read(file, offset, dst);
        } catch (FsException e) {
            throw e;
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "reading " + file + " at " + offset + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<String> listXattr(InodeId id) throws FsException {
        return xattrs.list(id);
    }

    @Override
    public byte[] getXattr(InodeId id, String name) throws FsException {
        return xattrs.get(id, name);
    }

    @Override
    public long seekData(InodeId file, long offset, boolean hole) throws FsException {
        return seekData.find(file, offset, hole);
    }

    @Override
    public StatFs statfs() throws FsException {
        return space.statfs();
    }

    @Override
    public List<TreeSearchItem> treeSearch(long treeId, Key min, Key max, long minTransid, long maxTransid,
                                           int maxItems, int maxBytes) throws FsException {
        return treeSearch.search(treeId, min, max, minTransid, maxTransid, maxItems, maxBytes);
    }

    @Override
    public List<SpaceInfo> spaceInfo() throws FsException {
        return space.spaceInfo();
    }

    @Override
    public List<FsInfo.Device> devices() {
        return space.devices();
    }

    @Override
    public SuperBlock superBlock() {
        return superBlock;
    }
}
