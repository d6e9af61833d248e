package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.TransactionAbortedException;
import jbtrfs.format.Key;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.SuperBlock;
import jbtrfs.format.Timespec;
import jbtrfs.tx.Transaction;
import jbtrfs.tx.TransactionManager;
import jbtrfs.volumes.Volume;

/**
 * {@link FsOperations} on a read-write mount. Reads share a read lock and see the running transaction's trees;
 * each change holds the write lock, edits the running transaction and returns; commits run every
 * {@code commit} seconds, on fsync and sync, and when the transaction's dirty tree blocks pass a bound.
 *
 * <p>A change that fails after it began editing aborts the transaction (the image keeps its last commit) and turns
 * the filesystem read-only, as the kernel does: a half-made change must never be committed. So does a failed
 * commit. After an abort every change gets EROFS ({@link Errno#EROFS}) and every fsync, sync and the
 * unmount's commit EIO ({@link jbtrfs.TransactionAbortedException}): what was written since the last commit is lost.
 */
final class WritableOperations implements FsOperations {
    private static final Logger LOG = LoggerFactory.getLogger(WritableOperations.class);

    private final ReadOnlyOperations reads;
    private final TransactionManager txm;
    private final Volume volume;
    private final Subvolumes subvolumes;
    private final InodeWriter inodes;
    private final FileExtentWriter files;
    private final NamespaceWriter names;
    private final XattrWriter xattrs;
    private final SetattrWriter attributes;
    private final AclWriter acls;
    private final Orphans orphans;
    private final CloneRange clones;
    private final SubvolumeChanges subvolumeChanges;
    private final FsyncLog fsyncLog;
    /** notreelog: an fsync commits, as the kernel's does with that option. */
    private final boolean noTreeLog;
    private final boolean evicting;
    /** What chattr +c writes as the file's compression property: the compress option's type, else zlib. */
    private final String compressionName;
    private final WriteGate gate;
    private final ScheduledExecutorService timer;

    WritableOperations(ReadOnlyOperations reads, TransactionManager txm, Subvolumes subvolumes, FileData fileData,
                       Volume volume, boolean noHoles, boolean extendedRefs, int commitSeconds,
                       MountOptions.Compression compression, Clock clock, boolean evicting, boolean noTreeLog) {
        this.reads = reads;
        this.volume = volume;
        this.txm = txm;
        this.subvolumes = subvolumes;
        this.inodes = new InodeWriter(txm, subvolumes, clock);
        this.gate = new WriteGate(txm, subvolumes, inodes);
        this.files = new FileExtentWriter(inodes, fileData, volume, txm.csumType(), noHoles, compression);
        this.compressionName = compression == null ? "zlib" : compression.type().displayName();
        this.orphans = new Orphans(inodes, files);
        this.clones = new CloneRange(inodes, files, noHoles);
        this.fsyncLog = new FsyncLog(txm, noHoles, inodes.extentChanges());
        this.noTreeLog = noTreeLog;
        this.evicting = evicting;
        this.names = new NamespaceWriter(inodes, files, extendedRefs, orphans, evicting);
        this.xattrs = new XattrWriter(inodes);
        this.attributes = new SetattrWriter(inodes);
        this.acls = new AclWriter(inodes, xattrs);
        this.subvolumeChanges = new SubvolumeChanges(gate, inodes, names, subvolumes, xattrs);
        subvolumes.setLiveTrees(id -> {
            Transaction t = txm.running();
            return t == null ? null : t.tree(id);
        });
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "jbtrfs-commit");
            t.setDaemon(true);
            return t;
        });
        if (commitSeconds > 0) {
            timer.scheduleWithFixedDelay(this::timedCommit, commitSeconds, commitSeconds, TimeUnit.SECONDS);
        }
    }

    // ---- reads ----

    @Override
    public InodeId root() { return reads.root(); }

    @Override
    public InodeId lookup(InodeId dir, String name) throws FsException {
        return gate.read(() -> reads.lookup(dir, name));
    }

    @Override
    public InodeId lookupIfExists(InodeId dir, String name) throws FsException {
        return gate.read(() -> reads.lookupIfExists(dir, name));
    }

    @Override
    public InodeId parentDirectory(InodeId dir) throws FsException {
        return gate.read(() -> reads.parentDirectory(dir));
    }

    @Override
    public InodeId resolve(String path) throws FsException { return gate.read(() -> reads.resolve(path)); }

    @Override
    public Stat stat(InodeId id) throws FsException { return gate.read(() -> reads.stat(id)); }

    @Override
    public List<DirEntry> readdir(InodeId dir, long offset, int max) throws FsException {
        return gate.read(() -> reads.readdir(dir, offset, max));
    }

    @Override
    public String readlink(InodeId id) throws FsException { return gate.read(() -> reads.readlink(id)); }

    @Override
    public int read(InodeId file, long offset, ByteBuffer dst) throws FsException {
        return gate.read(() -> reads.read(file, offset, dst));
    }

    @Override
    public List<String> listXattr(InodeId id) throws FsException { return gate.read(() -> reads.listXattr(id)); }

    @Override
    public byte[] getXattr(InodeId id, String name) throws FsException {
        return gate.read(() -> reads.getXattr(id, name));
    }

    @Override
    public StatFs statfs() throws FsException { return gate.read(reads::statfs); }

    @Override
    public List<TreeSearchItem> treeSearch(long treeId, Key min, Key max, long minTransid, long maxTransid,
                                           int maxItems, int maxBytes) throws FsException {
        return gate.read(() -> reads.treeSearch(treeId, min, max, minTransid, maxTransid, maxItems, maxBytes));
    }

    @Override
    public List<SpaceInfo> spaceInfo() throws FsException { return gate.read(reads::spaceInfo); }

    @Override
    public List<FsInfo.Device> devices() throws FsException { return gate.read(reads::devices); }

    @Override
    public SuperBlock superBlock() { return txm.committedSuperBlock(); }

    @Override
    public long seekData(InodeId file, long offset, boolean hole) throws FsException {
        return gate.read(() -> reads.seekData(file, offset, hole));
    }

    @Override
    public Scrubber scrubber() throws FsException { return reads.scrubber(); }

    /** What a scrub holds to keep commits out while it reads the committed trees (the readers' lock). */
    Lock commitFence() { return gate.commitFence(); }

    /** What a scrub holds to keep every commit out, its writeout too (the change lock, held across a commit). */
    Lock commitExclusion() { return gate.commitExclusion(); }

    // ---- changes ----

    @Override
    public boolean readOnly() { return txm.abortReason() != null; }

    @Override
    public InodeId mknod(InodeId dir, String name, int mode, long rdev, int uid, int gid) throws FsException {
        return mknod(dir, name, mode, rdev, uid, gid, 0);
    }

    @Override
    public InodeId mknod(InodeId dir, String name, int mode, long rdev, int uid, int gid, int umask)
            throws FsException {
        if ((mode & Stat.S_IFMT) == Stat.S_IFDIR || (mode & Stat.S_IFMT) == Stat.S_IFLNK || (mode & Stat.S_IFMT) == 0) {
            mode = (mode & ~Stat.S_IFMT) | ((mode & Stat.S_IFMT) == 0 ? Stat.S_IFREG : mode & Stat.S_IFMT);
        }
        int m = mode;
        return gate.change("mknod", () -> {
            AclWriter.Inherited a = acls.inherit(dir, m, umask);
            return inheriting(dir, names.create(dir, name, a.mode(), rdev, uid, gid, null), a);
        });
    }

    @Override
    public InodeId mkdir(InodeId dir, String name, int mode, int uid, int gid) throws FsException {
        return mkdir(dir, name, mode, uid, gid, 0);
    }

    @Override
    public InodeId mkdir(InodeId dir, String name, int mode, int uid, int gid, int umask) throws FsException {
        return gate.change("mkdir", () -> {
            AclWriter.Inherited a = acls.inherit(dir, Stat.S_IFDIR | (mode & 07777), umask);
            return inheriting(dir, names.create(dir, name, a.mode(), 0, uid, gid, null), a);
        });
    }

    /** {@code child}, new in {@code dir}, after it took the directory's default ACL and properties. */
    private InodeId inheriting(InodeId dir, InodeId child, AclWriter.Inherited acl) throws FsException {
        acls.apply(child, acl);
        xattrs.inheritProperties(dir, child);
        return child;
    }

    @Override
    public InodeId symlink(InodeId dir, String name, String target, int uid, int gid) throws FsException {
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        if (t.length == 0) throw new FsException(Errno.ENOENT, "empty symlink target");
        if (t.length >= Math.min(4096, txm.sectorsize())) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target of " + t.length + " bytes");
        }
        return gate.change("symlink", () -> names.create(dir, name, Stat.S_IFLNK | 0777, 0, uid, gid, t));
    }

    @Override
    public void link(InodeId target, InodeId dir, String name) throws FsException {
        gate.change("link", () -> { names.link(target, dir, name); return null; });
    }

    @Override
    public void unlink(InodeId dir, String name) throws FsException {
        gate.change("unlink", () -> { names.remove(dir, name, false); return null; });
    }

    @Override
    public void rmdir(InodeId dir, String name) throws FsException {
        gate.change("rmdir", () -> { names.remove(dir, name, true); return null; });
    }

    @Override
    public void rename(InodeId fromDir, String fromName, InodeId toDir, String toName, int flags) throws FsException {
        gate.change("rename", () -> { names.rename(fromDir, fromName, toDir, toName, flags); return null; });
    }

    @Override
    public InodeId tmpfile(InodeId dir, int mode, int uid, int gid) throws FsException {
        return tmpfile(dir, mode, uid, gid, 0);
    }

    @Override
    public InodeId tmpfile(InodeId dir, int mode, int uid, int gid, int umask) throws FsException {
        return gate.change("tmpfile", () -> {
            AclWriter.Inherited a = acls.inherit(dir, Stat.S_IFREG | (mode & 07777), umask);
            return inheriting(dir, names.tmpfile(dir, a.mode(), uid, gid), a);
        });
    }

    @Override
    public void evict(InodeId id) throws FsException {
        // most evicted inodes still have names: answered under the read lock, no transaction started
        try {
            if (gate.read(() -> reads.stat(id)).nlink() != 0) return;
        } catch (FsException e) {
            if (e.errno() != Errno.ENOENT) throw e;
            return; // freed already
        }
        gate.change("evict", () -> { orphans.evict(id); return null; });
    }

    // ---- subvolumes: each committed at once, as the kernel's ioctls do ----

    @Override
    public long createSubvolume(InodeId parentDir, String name, Caller caller) throws FsException {
        return subvolumeChanges.create(parentDir, name, caller);
    }

    @Override
    public long snapshot(long sourceSubvol, InodeId parentDir, String name, boolean readOnly, Caller caller)
            throws FsException {
        return subvolumeChanges.snapshot(sourceSubvol, parentDir, name, readOnly, caller);
    }

    @Override
    public void deleteSubvolume(InodeId parentDir, String name, Caller caller) throws FsException {
        subvolumeChanges.delete(parentDir, name, caller);
    }

    @Override
    public boolean subvolumeReadOnly(long subvol) throws FsException { return subvolumeInfo(subvol).readOnly(); }

    @Override
    public void setSubvolumeReadOnly(long subvol, boolean readOnly, Caller caller) throws FsException {
        subvolumeChanges.setReadOnly(subvol, readOnly, caller);
    }

    @Override
    public long defaultSubvolume() throws FsException { return gate.read(subvolumes::defaultSubvolume); }

    @Override
    public void setDefaultSubvolume(long subvol, Caller caller) throws FsException {
        subvolumeChanges.setDefault(subvol, caller);
    }

    @Override
    public SubvolumeInfo subvolumeInfo(long subvol) throws FsException {
        return gate.read(() -> subvolumes.info(subvol));
    }

    /** Waits until the cleaner has dropped every deleted subvolume it was woken for (tests). */
    void awaitCleaner() throws InterruptedException { subvolumeChanges.cleaner().awaitIdle(); }

    /** Tree blocks each cleaner step drops from now on (tests make them small to cut power between steps). */
    void setCleanerBudget(int blocks) { subvolumeChanges.setCleanerBudget(blocks); }

    /**
     * Orphan cleanup at mount (btrfs_orphan_cleanup): frees the inodes that orphan items name in the top level and
     * every writable subvolume, left by a crash of ours or the kernel's while files were open and unlinked.
     */
    void cleanupOrphans() throws FsException {
        for (long root : Orphans.writableSubvolumes(subvolumes.rootTree())) {
            if (gate.read(() -> Orphans.listed(subvolumes.tree(root))).isEmpty()) continue;
            gate.change("orphan cleanup", () -> orphans.cleanup(root));
        }
        // deleted subvolumes whose drop did not finish (ours or the kernel's) go on dropping
        subvolumeChanges.cleaner().wake();
    }

    @Override
    public void chmod(InodeId id, int mode) throws FsException {
        gate.change("chmod", () -> { acls.chmod(id, mode); return null; });
    }

    @Override
    public void chown(InodeId id, int uid, int gid, int clearMode, Timespec ctime) throws FsException {
        gate.change("chown", () -> { attributes.chown(id, uid, gid, clearMode, ctime); return null; });
    }

    @Override
    public void utimens(InodeId id, Timespec atime, Timespec mtime) throws FsException {
        gate.change("utimens", () -> { attributes.utimens(id, atime, mtime); return null; });
    }

    @Override
    public void setTimes(InodeId id, Timespec atime, Timespec mtime, Timespec ctime, boolean touch)
            throws FsException {
        gate.change("utimens", () -> { attributes.setTimes(id, atime, mtime, ctime, touch); return null; });
    }

    @Override
    public void killSuidSgid(InodeId id) throws FsException {
        killSuidSgid(id, null);
    }

    @Override
    public void killSuidSgid(InodeId id, int[] callerGroups) throws FsException {
        // the common case (no bit to clear) answers under the read lock and starts no transaction
        Stat st = stat(id);
        if (SetIdBits.killedByWrite(st.mode(), st.gid(), callerGroups) == 0) return;
        gate.change("kill suid", () -> { attributes.killSuidSgid(id, callerGroups); return null; });
    }

    @Override
    public void truncate(InodeId file, long size) throws FsException {
        gate.change("truncate", () -> { files.truncate(file, size); return null; });
    }

    @Override
    public int write(InodeId file, long offset, ByteBuffer src) throws FsException {
        // each try reads its own view: a try that ran out of space may have taken the bytes before it failed
        int n = gate.change("write", () -> files.write(file, offset, src.duplicate()));
        src.position(src.position() + n);
        return n;
    }

    @Override
    public int writeBack(InodeId file, long offset, ByteBuffer src) throws FsException {
        int n = gate.change("write", () -> {
            var before = inodes.load(file);
            int written = files.write(file, offset, src.duplicate());
            var after = inodes.load(file);
            inodes.save(file, after.withTimes(after.atime(), before.ctime(), before.mtime()));
            return written;
        });
        src.position(src.position() + n);
        return n;
    }

    @Override
    public void fallocate(InodeId file, int mode, long offset, long length) throws FsException {
        gate.change("fallocate", () -> { files.fallocate(file, mode, offset, length); return null; });
    }

    @Override
    public long copyFileRange(InodeId src, long srcOffset, InodeId dst, long dstOffset, long length, int flags)
            throws FsException {
        // under the change lock: fs-core's writers read through the running transaction, which this may start
        CloneRange.Outcome o = gate.change("copy_file_range", () -> clones.plan(src, srcOffset, dst, dstOffset, length,
                flags));
        if (o.shared()) {
            // batch by batch, as the kernel's clone goes extent by extent, each its own change
            long done = 0;
            while (done < o.span()) {
                long from = done;
                done = gate.change("copy_file_range", () -> clones.shareNext(src, srcOffset, dst, dstOffset, o, from));
            }
            return o.length();
        }
        return CloneRange.copyBytes(this, src, srcOffset, dst, dstOffset, o.length());
    }

    @Override
    public void setXattr(InodeId id, String name, byte[] value, int flags) throws FsException {
        gate.change("setxattr", () -> {
            if (AclWriter.named(name)) acls.set(id, name, value, (flags & XATTR_KILL_SGID) != 0);
            else xattrs.set(id, name, value, flags);
            return null;
        });
    }

    @Override
    public void removeXattr(InodeId id, String name) throws FsException {
        gate.change("removexattr", () -> { xattrs.remove(id, name); return null; });
    }

    @Override
    public long fileFlags(InodeId id) throws FsException { return gate.read(() -> reads.fileFlags(id)); }

    @Override
    public void setFileFlags(InodeId id, long fsFlags) throws FsException {
        gate.change("setflags", () -> { xattrs.setFileFlags(id, fsFlags, compressionName); return null; });
    }

    /** Marks every block group's v1 space cache for rewriting at the next commit (clear_cache at run time). */
    public void markSpaceCachesStale() throws FsException {
        gate.change("clear_cache", () -> { txm.markSpaceCachesStale(); return null; });
    }

    @Override
    public void fsync(InodeId id, boolean dataOnly) throws FsException {
        if (noTreeLog) gate.sync();
        else gate.fsync(() -> fsyncLog.fsync(id), id);
    }

    @Override
    public void sync() throws FsException {
        gate.sync();
    }

    /** The fsyncs since open that the log could not take (each a full commit), by why. */
    Map<String, Long> fsyncFallbacks() {
        Map<String, Long> out = new TreeMap<>();
        fsyncLog.fallbacks().forEach((why, n) -> out.put(why.name().toLowerCase(Locale.ROOT), n));
        return out;
    }

    @Override
    public long trim(long start, long length, long minlen) throws FsException {
        return gate.afterCommit(() -> {
            Map<Long, Long> present = new TreeMap<>();
            for (FsInfo.Device d : reads.devices()) {
                if (d.path() != null && volume.members().containsKey(d.devid())) present.put(d.devid(), d.totalBytes());
            }
            return new FreeSpaceTrim(volume, txm.blockGroups(), subvolumes.tree(ObjectIds.DEV_TREE), present)
                    .trim(start, length, minlen);
        });
    }

    /**
     * Stops the timer and commits (unmount). After an abort, earlier or by this commit, it throws the
     * {@link jbtrfs.TransactionAbortedException}: the changes since the last commit are lost and the caller must say
     * so. Where the transport evicts, inodes still unnamed at unmount are freed first, as the kernel's unmount
     * evicts them: nothing holds them any more.
     */
    void close() throws FsException {
        // not shutdownNow: interrupting a periodic commit in its I/O would abort it; sync waits for it instead
        timer.shutdown();
        subvolumeChanges.cleaner().stop();
        sync();
        if (evicting) {
            cleanupOrphans(); // over the root tree just committed, which knows every subvolume made since mount
            sync();
        }
    }

    private void timedCommit() {
        if (txm.aborted() != null) return; // said once, when it aborted; fsync and unmount report it
        try {
            sync();
        } catch (TransactionAbortedException e) {
            // the abort logged its one line
        } catch (FsException | RuntimeException e) {
            LOG.error("periodic commit failed: {}", e.getMessage());
        }
    }
}
