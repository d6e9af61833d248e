package jbtrfs.fs;

import java.util.function.UnaryOperator;

import jbtrfs.FsException;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Timespec;

/**
 * The attribute changes of a read-write mount (btrfs_setattr: chown, the times, and the suid/sgid bits a
 * write clears); the caller holds the {@link WriteGate}'s change for each, as for {@link XattrWriter}'s.
 */
final class SetattrWriter {
    private final InodeWriter inodes;

    SetattrWriter(InodeWriter inodes) {
        this.inodes = inodes;
    }

    void chown(InodeId id, int uid, int gid, int clearMode, Timespec ctime) throws FsException {
        long refused = uid == -1 && gid == -1 ? 0 : InodeWriter.IMMUTABLE_OR_APPEND;
        setattr("chown", id, refused, i -> i.withOwner(uid == -1 ? i.uid() : uid & 0xffffffffL,
                gid == -1 ? i.gid() : gid & 0xffffffffL).withMode(i.mode() & ~(clearMode & 07777))
                .withTimes(i.atime(), ctime == null ? inodes.time() : ctime, i.mtime()));
    }

    void utimens(InodeId id, Timespec atime, Timespec mtime) throws FsException {
        boolean explicit = (atime != null && atime != Timespec.NOW) || (mtime != null && mtime != Timespec.NOW);
        setattr("utimens", id, explicit ? InodeWriter.IMMUTABLE_OR_APPEND : InodeFlags.IMMUTABLE, i -> {
            Timespec now = inodes.time();
            return i.withTimes(atime == null ? i.atime() : atime == Timespec.NOW ? now : atime, now,
                    mtime == null ? i.mtime() : mtime == Timespec.NOW ? now : mtime);
        });
    }

    void setTimes(InodeId id, Timespec atime, Timespec mtime, Timespec ctime, boolean touch) throws FsException {
        boolean explicit = !touch && (atime != null || mtime != null);
        setattr("utimens", id, explicit ? InodeWriter.IMMUTABLE_OR_APPEND : InodeFlags.IMMUTABLE,
                i -> InodeWriter.bornAt(i, ctime).withTimes(atime == null ? i.atime() : atime,
                        ctime == null ? inodes.time() : ctime, mtime == null ? i.mtime() : mtime));
    }

    /**
     * One attribute change, with the checks every setattr makes first: a writable subvolume, metadata reserved, and
     * none of {@code refusedFlags} on the inode.
     */
    private void setattr(String operation, InodeId id, long refusedFlags, UnaryOperator<InodeItem> edit)
            throws FsException {
        inodes.checkWritable(id.root());
        inodes.reserveMetadata(1);
        var i = inodes.load(id);
        InodeWriter.refuseIf(i, refusedFlags, id, operation);
        inodes.save(id, edit.apply(i));
    }

    /** Clears the suid/sgid bits a write by a caller in {@code callerGroups} clears, if the inode has them. */
    void killSuidSgid(InodeId id, int[] callerGroups) throws FsException {
        var i = inodes.load(id);
        int kill = SetIdBits.killedByWrite(i.mode(), (int) i.gid(), callerGroups);
        if (kill == 0) return;
        inodes.checkWritable(id.root());
        inodes.reserveMetadata(1);
        inodes.save(id, i.withMode(i.mode() & ~kill).withTimes(i.atime(), inodes.time(), i.mtime()));
    }
}
