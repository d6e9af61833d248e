package jbtrfs.fs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;

/**
 * A POSIX ACL as the system.posix_acl_access and system.posix_acl_default xattrs hold it (the kernel's
 * posix_acl_xattr: a little-endian version 2, then tag, perm and id per entry, sorted by tag and id), and the
 * kernel's rules that tie it to the mode bits (fs/posix_acl.c: create_masq, chmod_masq, equiv_mode).
 */
record PosixAcl(List<Entry> entries) {
    static final String ACCESS = "system.posix_acl_access";
    static final String DEFAULT = "system.posix_acl_default";
    static final int USER_OBJ = 0x01;
    static final int USER = 0x02;
    static final int GROUP_OBJ = 0x04;
    static final int GROUP = 0x08;
    static final int MASK = 0x10;
    static final int OTHER = 0x20;
    private static final int VERSION = 2;
    private static final int UNDEFINED_ID = -1;

    /** One entry: perm is rwx as 4/2/1; id names a user or group for USER and GROUP only. */
    record Entry(int tag, int perm, int id) {
    }

    /** The mode (bits 0777) and whether the ACL says more than the mode can (named entries or a mask). */
    record Equivalent(int mode, boolean extended) {
    }

    /** Parses an xattr value; EINVAL when it is not the kernel's format. */
    static PosixAcl parse(byte[] value) throws FsException {
        if (value.length < 4 || (value.length - 4) % 8 != 0) throw invalid("size " + value.length);
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt() != VERSION) throw invalid("version");
        List<Entry> entries = new ArrayList<>();
        while (b.hasRemaining()) {
            int tag = b.getShort() & 0xffff;
            int perm = b.getShort() & 0xffff;
            int id = b.getInt();
            if (perm > 7) throw invalid("perm " + perm);
            switch (tag) {
                case USER_OBJ, GROUP_OBJ, MASK, OTHER, USER, GROUP -> entries.add(new Entry(tag, perm, id));
                default -> throw invalid("tag " + tag);
            }
        }
        return new PosixAcl(List.copyOf(entries));
    }

    private static FsException invalid(String what) {
        return new FsException(Errno.EINVAL, "not a POSIX ACL: " + what);
    }

    byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(4 + 8 * entries.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(VERSION);
        for (Entry e : entries) {
            b.putShort((short) e.tag()).putShort((short) e.perm());
            b.putInt(e.tag() == USER || e.tag() == GROUP ? e.id() : UNDEFINED_ID);
        }
        return b.array();
    }

    /** posix_acl_equiv_mode: the permission bits the ACL gives, and whether it says more than they can. */
    Equivalent equivalent() {
        int mode = 0;
        boolean extended = false;
        for (Entry e : entries) {
            switch (e.tag()) {
                case USER_OBJ -> mode |= e.perm() << 6;
                case GROUP_OBJ -> mode |= e.perm() << 3;
                case OTHER -> mode |= e.perm();
                case MASK -> {
                    mode = (mode & ~070) | (e.perm() << 3);
                    extended = true;
                }
                default -> extended = true;
            }
        }
        return new Equivalent(mode, extended);
    }

    /**
     * posix_acl_create_masq: a directory's default ACL turned into a new inode's access ACL for the create mode
     * {@code mode} (bits 0777); the owner, the mask (or owning group) and other entries and the mode each keep only
     * what both allow. Returns the ACL; {@link #permissions} of it is the inode's new mode bits.
     */
    PosixAcl masked(int mode) {
        int m = mode & 0777;
        boolean hasMask = entries.stream().anyMatch(e -> e.tag() == MASK);
        List<Entry> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            int perm = switch (e.tag()) {
                case USER_OBJ -> e.perm() & (m >> 6);
                case OTHER -> e.perm() & m;
                case MASK -> e.perm() & (m >> 3);
                case GROUP_OBJ -> hasMask ? e.perm() : e.perm() & (m >> 3);
                default -> e.perm();
            };
            out.add(new Entry(e.tag(), perm, e.id()));
        }
        return new PosixAcl(List.copyOf(out));
    }

    /** The mode bits (0777) an access ACL grants: owner, mask or else owning group, other. */
    int permissions() {
        int owner = 0;
        int group = 0;
        int other = 0;
        int mask = -1;
        for (Entry e : entries) {
            switch (e.tag()) {
                case USER_OBJ -> owner = e.perm();
                case GROUP_OBJ -> group = e.perm();
                case OTHER -> other = e.perm();
                case MASK -> mask = e.perm();
                default -> { }
            }
        }
        return owner << 6 | (mask >= 0 ? mask : group) << 3 | other;
    }

    /** posix_acl_chmod_masq: owner, mask (or owning group) and other entries take the new mode's bits. */
    PosixAcl chmod(int mode) {
        boolean hasMask = entries.stream().anyMatch(e -> e.tag() == MASK);
        List<Entry> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            int perm = switch (e.tag()) {
                case USER_OBJ -> (mode >> 6) & 7;
                case OTHER -> mode & 7;
                case MASK -> (mode >> 3) & 7;
                case GROUP_OBJ -> hasMask ? e.perm() : (mode >> 3) & 7;
                default -> e.perm();
            };
            out.add(new Entry(e.tag(), perm, e.id()));
        }
        return new PosixAcl(List.copyOf(out));
    }
}
