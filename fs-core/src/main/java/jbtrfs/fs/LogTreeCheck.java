package jbtrfs.fs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.csum.ChecksumType;
import jbtrfs.ctree.TreeBlock;
import jbtrfs.ctree.TreeBlockReader;
import jbtrfs.ctree.TreeChecker;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.SuperBlock;

/**
 * Whether the log an image carries can be replayed: every block of the log root tree and of each log tree it
 * names is read (checksum, header, generation {@code generation + 1} as the kernel's btrfs_replay_log expects, level)
 * and passes the tree checker with owner TREE_LOG, items included. A log that fails is not replayed at all: a
 * replay half done from a damaged log would be worse than the last commit.
 */
final class LogTreeCheck {
    private static final Logger LOG = LoggerFactory.getLogger(LogTreeCheck.class);

    private LogTreeCheck() {
    }

    /**
     * Whether the log of an image that has one is to be replayed: not with nologreplay (read-only only), nor when
     * it fails its checks (read-only then shows the last commit with a warning; read-write is refused).
     */
    static boolean replayable(SuperBlock sb, TreeBlockReader reader, MountOptions options) throws FsException {
        if (options.noLogReplay()) {
            if (!options.readOnly()) {
                throw new FsException(Errno.EINVAL, "nologreplay needs a read-only mount");
            }
            LOG.warn("the image has a log tree (fsyncs after the last commit); nologreplay: this read-only mount "
                    + "shows the last committed state");
            return false;
        }
        String problem = problem(sb, reader);
        if (problem == null) return true;
        if (!options.readOnly()) {
            throw new FsException(Errno.EINVAL, "the log tree cannot be replayed: " + problem
                    + "; mount it with -o nologreplay,ro to see the last commit");
        }
        LOG.warn("the log tree cannot be replayed: {}; this read-only mount shows the last committed state", problem);
        return false;
    }

    /** Null when the log of {@code sb} (log_root != 0) reads and checks clean, else one line saying why not. */
    static String problem(SuperBlock sb, TreeBlockReader reader) {
        // every log block belongs to the transaction after the last commit: the one whose fsyncs wrote it
        long transid = sb.generation() + 1;
        int csumSize = ChecksumType.fromCode(sb.csumType()).size();
        try {
            walk(sb, reader, "the log root tree", sb.logRoot(), transid, sb.logRootLevel(), transid, csumSize, true);
            return null;
        } catch (FsException e) {
            return e.getMessage();
        }
    }

    /**
     * Reads and checks every block under {@code bytenr}; in the log root tree, also the log tree each root item
     * names.
     */
    private static void walk(SuperBlock sb, TreeBlockReader reader, String tree, long bytenr, long generation,
                             int level, long transid, int csumSize, boolean rootTree) throws FsException {
        TreeBlock block;
        try {
            block = reader.read(bytenr, generation, level, ObjectIds.TREE_LOG);
        } catch (FsException e) {
            throw new FsException(e.errno(), tree + " cannot be read: " + e.getMessage());
        }
        try {
            TreeChecker.checkBeforeWrite(block.buffer(), bytenr, sb.treeBlockFsid(), reader.nodesize(),
                    transid, ObjectIds.TREE_LOG, level, csumSize);
        } catch (FsException e) {
            throw new FsException(e.errno(), tree + " fails the tree checker: " + e.getMessage());
        }
        for (int slot = 0; slot < block.nritems(); slot++) {
            if (!block.isLeaf()) {
                walk(sb, reader, tree, block.blockptr(slot), block.ptrGeneration(slot), level - 1, transid,
                        csumSize, rootTree);
            } else if (rootTree && block.key(slot).type() == KeyType.ROOT_ITEM) {
                RootItem item = RootItem.read(block.buffer(), block.itemOffset(slot), block.itemSize(slot));
                long subvolume = block.key(slot).offset();
                walk(sb, reader, "the log tree of subvolume " + subvolume, item.bytenr(), item.generation(),
                        item.level(), transid, csumSize, false);
            }
        }
    }
}
