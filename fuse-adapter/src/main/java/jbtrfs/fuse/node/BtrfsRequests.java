package jbtrfs.fuse.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jbtrfs.FsException;
import jbtrfs.format.ObjectIds;
import jbtrfs.fs.Caller;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.SubvolumeInfo;
import jbtrfs.fuse.kernel.FuseNotifier;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * The btrfs ioctls that change subvolumes or ask about one (fs/btrfs/ioctl.c's rules and errnos): SUBVOL_CREATE(_V2),
 * SNAP_CREATE_V2, SNAP_DESTROY(_V2), SUBVOL_GETFLAGS/SETFLAGS, DEFAULT_SUBVOL, GET_SUBVOL_INFO and SYNC; the
 * searches and the filesystem's figures are {@link BtrfsQueries}'. A subvolume that appears or goes is announced to
 * the kernel's name cache before the reply.
 */
final class BtrfsRequests {
    private static final Logger LOG = LoggerFactory.getLogger(BtrfsRequests.class);
    private static final int NAME_MAX = 255;

    private final Nodes nodes;
    private final FsOperations ops;
    private final BtrfsQueries queries;
    private volatile Path mountpoint;

    BtrfsRequests(Nodes nodes) {
        this.nodes = nodes;
        this.ops = nodes.ops;
        this.queries = new BtrfsQueries(nodes);
    }

    /**
     * Where the mount is (the snapshot source's descriptor is resolved against it) and the device it serves
     * (DEV_INFO names it); unknown until told.
     */
    void mountedAt(Path mountpoint, Path device) {
        this.mountpoint = mountpoint;
        queries.deviceAt(device);
    }

    void ioctl(FuseRequest r, InodeId id, int cmd, long arg, int inSize, int outSize) throws FsException {
        InArgs in = r.in();
        if (cmd == BtrfsIoctl.SUBVOL_CREATE || cmd == BtrfsIoctl.SNAP_DESTROY) {
            ByteBuffer a = IoctlRequests.data(in, inSize, BtrfsIoctl.VOL_ARGS_SIZE);
            String name = name(a, BtrfsIoctl.VOL_ARGS_NAME, BtrfsIoctl.VOL_ARGS_SIZE - BtrfsIoctl.VOL_ARGS_NAME - 1);
            if (cmd == BtrfsIoctl.SUBVOL_CREATE) {
                create(r, id, name);
            } else {
                destroy(r, id, name);
            }
            r.reply(IoctlRequests.reply(r, outSize, 0));
        } else if (cmd == BtrfsIoctl.SUBVOL_CREATE_V2 || cmd == BtrfsIoctl.SNAP_CREATE_V2
                || cmd == BtrfsIoctl.SNAP_DESTROY_V2) {
            volArgsV2(r, id, cmd, IoctlRequests.data(in, inSize, BtrfsIoctl.VOL_ARGS_SIZE));
            r.reply(IoctlRequests.reply(r, outSize, 0));
        } else if (cmd == BtrfsIoctl.SUBVOL_GETFLAGS) {
            if (id.objectid() != ObjectIds.FIRST_FREE_DIR) throw new ReplyError(ReplyError.EINVAL);
            ByteBuffer b = IoctlRequests.reply(r, outSize, 8);
            b.putLong(ops.subvolumeReadOnly(id.root()) ? BtrfsIoctl.SUBVOL_RDONLY : 0);
            r.reply(b);
        } else if (cmd == BtrfsIoctl.SUBVOL_SETFLAGS) {
            long flags = IoctlRequests.data(in, inSize, 8).getLong(0);
            if (ops.readOnly()) throw new ReplyError(ReplyError.EROFS);
            if (id.objectid() != ObjectIds.FIRST_FREE_DIR) throw new ReplyError(ReplyError.EINVAL);
            if ((flags & ~BtrfsIoctl.SUBVOL_RDONLY) != 0) throw new ReplyError(ReplyError.EOPNOTSUPP);
            ops.setSubvolumeReadOnly(id.root(), (flags & BtrfsIoctl.SUBVOL_RDONLY) != 0, Callers.of(r));
            r.reply(IoctlRequests.reply(r, outSize, 0));
        } else if (cmd == BtrfsIoctl.DEFAULT_SUBVOL) {
            long subvol = IoctlRequests.data(in, inSize, 8).getLong(0);
            ops.setDefaultSubvolume(subvol == 0 ? ObjectIds.FS_TREE : subvol, Callers.of(r));
            r.reply(IoctlRequests.reply(r, outSize, 0));
        } else if (cmd == BtrfsIoctl.GET_SUBVOL_INFO) {
            SubvolumeInfo info = ops.subvolumeInfo(id.root());
            ByteBuffer b = IoctlRequests.reply(r, outSize, BtrfsIoctl.SUBVOL_INFO_SIZE);
            b.put(BtrfsIoctl.encodeSubvolInfo(info));
            r.reply(b);
        } else if (cmd == BtrfsIoctl.SYNC) {
            ops.sync();
            r.reply(IoctlRequests.reply(r, outSize, 0));
        } else if (cmd == BtrfsIoctl.FITRIM) {
            ByteBuffer b = IoctlRequests.reply(r, outSize, BtrfsIoctl.FSTRIM_RANGE_SIZE);
            r.reply(b.put(fitrim(r, IoctlRequests.data(in, inSize, BtrfsIoctl.FSTRIM_RANGE_SIZE))));
        } else {
            queries.ioctl(r, id, cmd, arg, inSize, outSize);
        }
    }

    /**
     * btrfs_ioctl_fitrim and btrfs_trim_fs' checks: root only; a length under a sector, a start of U64_MAX or a range
     * past U64_MAX is EINVAL; minlen at least a sector (what an image file can give back). The answer is the
     * struct with len the bytes trimmed and minlen as used.
     */
    private ByteBuffer fitrim(FuseRequest r, ByteBuffer a) throws FsException {
        if (r.uid() != 0) throw new ReplyError(ReplyError.EPERM);
        long start = a.getLong(0);
        long len = a.getLong(8);
        long sector = ops.superBlock().sectorsize();
        if (Long.compareUnsigned(len, sector) < 0) throw new ReplyError(ReplyError.EINVAL);
        long minlen = Long.compareUnsigned(a.getLong(16), sector) < 0 ? sector : a.getLong(16);
        if (start == -1L || (len != -1L && Long.compareUnsigned(start + len, start) < 0)) {
            throw new ReplyError(ReplyError.EINVAL);
        }
        long trimmed = ops.trim(start, len, minlen);
        ByteBuffer out = BtrfsIoctl.buffer(BtrfsIoctl.FSTRIM_RANGE_SIZE);
        return out.putLong(0, start).putLong(8, trimmed).putLong(16, minlen);
    }

    /** SUBVOL_CREATE_V2, SNAP_CREATE_V2 and SNAP_DESTROY_V2 (btrfs_ioctl_vol_args_v2). */
    private void volArgsV2(FuseRequest r, InodeId dir, int cmd, ByteBuffer a) throws FsException {
        long fd = a.getLong(0);
        long flags = a.getLong(16);
        if (cmd == BtrfsIoctl.SNAP_DESTROY_V2) {
            if ((flags & ~BtrfsIoctl.SUBVOL_SPEC_BY_ID) != 0) throw new ReplyError(ReplyError.EOPNOTSUPP);
            if ((flags & BtrfsIoctl.SUBVOL_SPEC_BY_ID) == 0) {
                destroy(r, dir, name(a, BtrfsIoctl.VOL_ARGS_V2_NAME,
                        BtrfsIoctl.VOL_ARGS_SIZE - BtrfsIoctl.VOL_ARGS_V2_NAME - 1));
                return;
            }
            long subvol = a.getLong(BtrfsIoctl.VOL_ARGS_V2_NAME);
            if (subvol < ObjectIds.FIRST_FREE) throw new ReplyError(ReplyError.EINVAL);
            SubvolumeInfo info = ops.subvolumeInfo(subvol);
            InodeId parent = new InodeId(info.parentId(), info.dirId());
            ops.deleteSubvolume(parent, info.name(), Callers.of(r));
            announce(parent, info.name());
            return;
        }
        // qgroup inheritance passes a pointer FUSE does not carry, and quotas stay off here
        if ((flags & ~(BtrfsIoctl.SUBVOL_RDONLY | BtrfsIoctl.SUBVOL_QGROUP_INHERIT)) != 0
                || (flags & BtrfsIoctl.SUBVOL_QGROUP_INHERIT) != 0) {
            throw new ReplyError(ReplyError.EOPNOTSUPP);
        }
        String name = name(a, BtrfsIoctl.VOL_ARGS_V2_NAME, BtrfsIoctl.VOL_ARGS_SIZE - BtrfsIoctl.VOL_ARGS_V2_NAME - 1);
        if (cmd == BtrfsIoctl.SUBVOL_CREATE_V2) {
            create(r, dir, name);
            return;
        }
        checkNewName(name);
        long source = sourceSubvolume(r, fd);
        ops.snapshot(source, dir, name, (flags & BtrfsIoctl.SUBVOL_RDONLY) != 0, Callers.of(r));
        announce(dir, name);
    }

    private void create(FuseRequest r, InodeId dir, String name) throws FsException {
        checkNewName(name);
        ops.createSubvolume(dir, name, Callers.of(r));
        announce(dir, name);
    }

    private void destroy(FuseRequest r, InodeId dir, String name) throws FsException {
        // btrfs_ioctl_snap_destroy: a '/' is EINVAL, then the lookup refuses "", "." and ".." with EACCES
        if (name.indexOf('/') >= 0) throw new ReplyError(ReplyError.EINVAL);
        if (ops.readOnly()) throw new ReplyError(ReplyError.EROFS);
        if ("..".startsWith(name)) throw new ReplyError(ReplyError.EACCES);
        ops.deleteSubvolume(dir, name, Callers.of(r));
        announce(dir, name);
    }

    /** __btrfs_ioctl_snap_create's checks, then lookup_one_len's: '/' EINVAL, "." and ".." EEXIST, "" EACCES. */
    private void checkNewName(String name) {
        if (ops.readOnly()) throw new ReplyError(ReplyError.EROFS);
        if (name.indexOf('/') >= 0) throw new ReplyError(ReplyError.EINVAL);
        if (name.equals(".") || name.equals("..")) throw new ReplyError(ReplyError.EEXIST);
        if (name.isEmpty()) throw new ReplyError(ReplyError.EACCES);
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) throw new ReplyError(ReplyError.ENAMETOOLONG);
    }

    /**
     * The subvolume of the file behind the caller's descriptor {@code fd}: /proc/PID/fd/FD names it, and it must be
     * on this mount (EXDEV otherwise, as a source on another filesystem is) and be the inode that path resolves to.
     */
    private long sourceSubvolume(FuseRequest r, long fd) throws FsException {
        Path link = Callers.fd(r, fd);
        Path mp = mountpoint;
        Path target;
        long ino;
        try {
            target = Files.readSymbolicLink(link);
            ino = ((Number) Files.getAttribute(link, "unix:ino")).longValue();
        } catch (IOException | UnsupportedOperationException e) {
            throw new ReplyError(ReplyError.EINVAL); // fdget failed: the kernel says EINVAL, not EBADF
        }
        if (mp == null || !target.isAbsolute() || !target.startsWith(mp)) throw new ReplyError(ReplyError.EXDEV);
        InodeId src = ops.resolve("/" + mp.relativize(target));
        if (nodes.ids.ino(src) != ino) throw new ReplyError(ReplyError.EXDEV);
        return src.root();
    }

    /**
     * Drops the kernel's cached entry (a negative one, or the name of a subvolume now gone) and the directory's
     * attributes. Sent from the request itself, so that the caller's next lookup sees the change: an ioctl holds no
     * lock on the directory that the invalidation takes.
     */
    private void announce(InodeId dir, String name) {
        long nodeId = nodes.ids.nodeId(dir);
        FuseNotifier n = nodes.notifier();
        if (n == null || (nodeId != NodeIds.ROOT_ID && nodes.table.lookups(nodeId) == 0)) return;
        try {
            n.invalEntry(nodeId, name.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            LOG.debug("invalidating {} in {}: {}", name, dir, e.getMessage());
        }
        nodes.attributesChanged(nodeId);
    }

    /** A name the kernel forces to end at the struct's last byte. */
    private static String name(ByteBuffer a, int offset, int max) {
        byte[] b = BtrfsIoctl.name(a, offset, max);
        if (b == null) {
            b = new byte[max];
            a.get(offset, b);
        }
        return new String(b, StandardCharsets.UTF_8);
    }
}
