package jbtrfs.fs;

import java.nio.charset.StandardCharsets;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.format.InodeItem;

/**
 * POSIX ACLs kept in step with the mode bits as the kernel's Btrfs keeps them: a new inode inherits its directory's
 * default ACL (btrfs_init_acl, posix_acl_create), setting an access ACL sets the mode (btrfs_set_acl,
 * posix_acl_update_mode), and chmod rewrites the access ACL (posix_acl_chmod).
 */
final class AclWriter {
    private static final byte[] ACCESS = PosixAcl.ACCESS.getBytes(StandardCharsets.UTF_8);
    private static final byte[] DEFAULT = PosixAcl.DEFAULT.getBytes(StandardCharsets.UTF_8);
    private static final int S_ISGID = 02000;

    private final InodeWriter w;
    private final XattrWriter xattrs;

    AclWriter(InodeWriter w, XattrWriter xattrs) {
        this.w = w;
        this.xattrs = xattrs;
    }

    /** What a new inode takes from its directory: its mode, and the ACLs it gets (null: none). */
    record Inherited(int mode, byte[] access, byte[] defaultAcl) {
    }

    static boolean named(String xattr) {
        return xattr.equals(PosixAcl.ACCESS) || xattr.equals(PosixAcl.DEFAULT);
    }

    /**
     * The mode and ACLs of a new inode of {@code mode} (type bits included) in {@code dir}, created under
     * {@code umask}: without a default ACL the umask applies; with one the umask is ignored and the ACL, masked by
     * the create mode, decides; a directory also keeps the default ACL. Symbolic links take none.
     */
    Inherited inherit(InodeId dir, int mode, int umask) throws FsException {
        byte[] d = (mode & Stat.S_IFMT) == Stat.S_IFLNK ? null : XattrWriter.get(w, dir, DEFAULT);
        if (d == null) return new Inherited(mode & ~(umask & 0777), null, null);
        PosixAcl acl = PosixAcl.parse(d).masked(mode);
        byte[] access = acl.equivalent().extended() ? acl.encode() : null;
        return new Inherited((mode & ~0777) | acl.permissions(), access,
                (mode & Stat.S_IFMT) == Stat.S_IFDIR ? d : null);
    }

    /** Stores the ACLs {@link #inherit} gave a new inode. */
    void apply(InodeId child, Inherited a) throws FsException {
        if (a.defaultAcl() != null) xattrs.put(child, DEFAULT, a.defaultAcl(), 0);
        if (a.access() != null) xattrs.put(child, ACCESS, a.access(), 0);
    }

    /**
     * setxattr of an ACL. An access ACL sets the permission bits; one the bits say in full is not stored (an
     * existing one goes); {@code killSgid} (the caller is outside the file's group, without CAP_FSETID) drops
     * set-group-ID. A default ACL is for directories only (EACCES, as set_posix_acl answers).
     */
    void set(InodeId id, String name, byte[] value, boolean killSgid) throws FsException {
        PosixAcl acl = PosixAcl.parse(value);
        if (name.equals(PosixAcl.DEFAULT)) {
            if ((w.load(id).mode() & Stat.S_IFMT) != Stat.S_IFDIR) {
                throw new FsException(Errno.EACCES, "a default ACL on a non-directory " + id);
            }
            xattrs.set(id, name, value, 0);
            return;
        }
        PosixAcl.Equivalent e = acl.equivalent();
        if (e.extended()) xattrs.set(id, name, acl.encode(), 0);
        else if (XattrWriter.get(w, id, ACCESS) != null) xattrs.remove(id, name);
        InodeItem i = w.load(id);
        int mode = (i.mode() & ~0777) | e.mode();
        if (killSgid) mode &= ~S_ISGID;
        w.save(id, i.withMode(mode).withTimes(i.atime(), w.time(), i.mtime()));
    }

    /** chmod: the permission bits (07777) and ctime, and the access ACL's owner, mask or group, and other. */
    void chmod(InodeId id, int mode) throws FsException {
        w.checkWritable(id.root());
        InodeItem i = w.load(id);
        InodeWriter.refuseIf(i, InodeWriter.IMMUTABLE_OR_APPEND, id, "chmod");
        byte[] access = (i.mode() & Stat.S_IFMT) == Stat.S_IFLNK ? null : XattrWriter.get(w, id, ACCESS);
        // the inode item alone, as btrfs_setattr reserves; the ACL's rewrite (posix_acl_chmod) only when there is one
        w.reserveMetadata(access == null ? 1 : 4);
        w.save(id, i.withMode((i.mode() & Stat.S_IFMT) | (mode & 07777)).withTimes(i.atime(), w.time(), i.mtime()));
        if (access != null) xattrs.put(id, ACCESS, PosixAcl.parse(access).chmod(mode).encode(), 0);
    }
}
