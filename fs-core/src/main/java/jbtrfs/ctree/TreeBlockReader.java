package jbtrfs.ctree;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.CorruptBlockException;
import jbtrfs.ReadStats;
import jbtrfs.csum.ChecksumType;
import jbtrfs.format.Header;
import jbtrfs.volumes.Volume;

/**
 * Reads tree blocks by logical address: every copy in turn until one passes its checksum and the tree checker,
 * then caches it. A bad copy is logged and counted; only when every copy is bad does the read fail.
 */
public final class TreeBlockReader implements TreeBlockSource {
    private static final Logger LOG = LoggerFactory.getLogger(TreeBlockReader.class);

    private final Volume volume;
    private final ChecksumType csumType;
    private final int nodesize;
    private final byte[] fsid;
    private final ReadStats stats;
    private final TreeBlockCache cache;
    /** Blocks with a bad copy read before repairs were allowed (the open's reads): repaired by {@link #repairPending}. */
    private final List<Pending> pending = new ArrayList<>();

    private record Pending(TreeBlock good, int goodMirror, long root) {}

    /** At most this many blocks wait for {@link #repairPending}; a scrub finds any others. */
    private static final int MAX_PENDING = 256;

    public TreeBlockReader(Volume volume, ChecksumType csumType, int nodesize, byte[] fsid, long cacheBytes,
                           ReadStats stats) {
        this.volume = volume;
        this.csumType = csumType;
        this.nodesize = nodesize;
        this.fsid = fsid.clone();
        this.stats = stats;
        this.cache = new TreeBlockCache((int) Math.max(16, cacheBytes / nodesize));
    }

    public int nodesize() { return nodesize; }

    /**
     * The verified block at {@code bytenr}. {@code expectedGeneration} 0 and {@code expectedLevel} -1 mean unknown;
     * {@code root} only names the tree in error messages.
     */
    @Override
    public TreeBlock read(long bytenr, long expectedGeneration, int expectedLevel, long root)
            throws CorruptBlockException {
        TreeBlock cached = cache.get(bytenr);
        if (cached != null && (expectedGeneration == 0 || cached.generation() == expectedGeneration)) {
            stats.treeBlockCacheHit();
            return cached;
        }
        stats.treeBlockCacheMiss();
        int copies;
        try {
            copies = volume.copies(bytenr);
        } catch (IOException e) {
            stats.corruptBlock();
            throw new CorruptBlockException(root, bytenr, -1, e.getMessage());
        }
        String firstProblem = null;
        for (int mirror = 0; mirror < copies; mirror++) {
            String[] problemOut = new String[1];
            TreeBlock block = tryCopy(bytenr, mirror, expectedGeneration, expectedLevel, problemOut);
            if (block != null) {
                if (mirror > 0) {
                    stats.mirrorRetry();
                    repair(block, mirror, root);
                }
                return block;
            }
            String problem = problemOut[0];
            LOG.warn("tree block {} (root {}) copy {} of {}: {}", Long.toUnsignedString(bytenr), root, mirror + 1,
                    copies, problem);
            if (firstProblem == null) firstProblem = problem;
        }
        stats.corruptBlock();
        throw new CorruptBlockException(root, bytenr, -1, firstProblem
                + (copies > 1 ? " (all " + copies + " copies bad)" : ""));
    }

    /**
     * Read-repair (≈ btrfs_repair_eb_io_failure): the copies before {@code goodMirror} failed, so where the mount
     * may write, the good block goes back over each of them. A failed repair leaves the copy as it was (logged).
     */
    private void repair(TreeBlock good, int goodMirror, long root) {
        if (!volume.repairsAllowed()) {
            if (volume.device().writable()) {
                synchronized (pending) {
                    if (pending.size() < MAX_PENDING) pending.add(new Pending(good, goodMirror, root));
                }
            }
            return;
        }
        for (int bad = 0; bad < goodMirror; bad++) {
            try {
                volume.repairCopy(good.bytenr(), good.buffer().duplicate().clear(), bad);
                stats.readRepair();
                LOG.warn("tree block {} (root {}) copy {} repaired from copy {}", Long.toUnsignedString(good.bytenr()),
                        root, bad + 1, goodMirror + 1);
            } catch (IOException e) {
                LOG.warn("tree block {} (root {}) copy {}: repair failed: {}", Long.toUnsignedString(good.bytenr()),
                        root, bad + 1, e.getMessage());
            }
        }
    }

    /**
     * Repairs the bad copies met before repairs were allowed, as the kernel's reads at mount do. Call it once
     * repairs are allowed and before anything is freed: every block read until then is still in use where it lies.
     */
    public void repairPending() {
        List<Pending> todo;
        synchronized (pending) {
            todo = List.copyOf(pending);
            pending.clear();
        }
        for (Pending p : todo) repair(p.good(), p.goodMirror(), p.root());
    }

    /** Reads and verifies one copy; caches and returns it when good, else null with the problem in problemOut. */
    private TreeBlock tryCopy(long bytenr, int mirror, long expectedGeneration, int expectedLevel,
                              String[] problemOut) {
        ByteBuffer b = ByteBuffer.allocate(nodesize).order(ByteOrder.LITTLE_ENDIAN);
        try {
            volume.read(bytenr, b, mirror);
        } catch (IOException e) {
            problemOut[0] = "read failed: " + e.getMessage();
            return null;
        }
        b.clear();
        if (!csumType.matches(b, Header.CSUM_START, nodesize - Header.CSUM_START, b, Header.OFFSET_CSUM)) {
            stats.metadataChecksumFailure();
            problemOut[0] = csumType.displayName() + " checksum mismatch";
            return null;
        }
        problemOut[0] = TreeChecker.check(b, bytenr, fsid, nodesize, expectedGeneration, expectedLevel);
        if (problemOut[0] != null) return null;
        TreeBlock block = new TreeBlock(bytenr, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
        cache.put(block);
        return block;
    }

    /** Puts a block this filesystem just wrote into the cache (its address may have held another block before). */
    public void cache(TreeBlock block) {
        cache.put(block);
    }
}
