package jbtrfs.fs;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.DirItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;

/**
 * Extended attributes: XATTR_ITEMs keyed by name hash, laid out as dir items with the value as their data. Names
 * in btrfs. are the kernel's properties: only btrfs.compression, whose value also sets the inode's COMPRESS or
 * NOCOMPRESS flag, and which new files and directories inherit from their parent (≈ fs/btrfs/props.c).
 */
final class XattrWriter {
    static final String COMPRESSION_PROP = "btrfs.compression";
    private static final byte[] COMPRESSION_PROP_NAME = COMPRESSION_PROP.getBytes(StandardCharsets.UTF_8);

    private final InodeWriter w;

    XattrWriter(InodeWriter w) {
        this.w = w;
    }

    void set(InodeId id, String name, byte[] value, int flags) throws FsException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        if (n.length > NamespaceWriter.NAME_MAX || n.length == 0) throw new FsException(Errno.ENAMETOOLONG, "xattr name " + name);
        w.checkWritable(id.root());
        InodeWriter.refuseIf(w.load(id), InodeWriter.IMMUTABLE_OR_APPEND, id, "setxattr");
        if (name.startsWith("btrfs.")) {
            setProperty(id, name, value, flags);
            return;
        }
        store(id, n, value, flags);
    }

    /** setxattr of a btrfs. property (≈ btrfs_set_prop): checked, stored (an empty value removes it), applied. */
    private void setProperty(InodeId id, String name, byte[] value, int flags) throws FsException {
        if (!name.equals(COMPRESSION_PROP)) throw new FsException(Errno.EINVAL, "no property " + name);
        InodeItem inode = w.load(id);
        String v = new String(value, StandardCharsets.ISO_8859_1);
        int type = inode.mode() & Stat.S_IFMT;
        if ((type != Stat.S_IFREG && type != Stat.S_IFDIR)
                || (inode.flags() & (InodeItem.FLAG_NODATACOW | InodeItem.FLAG_NODATASUM)) != 0
                || (!v.isEmpty() && compressionOf(v) == null && !v.equals("no") && !v.equals("none"))) {
            throw new FsException(Errno.EINVAL, "bad value for " + name + " on " + id);
        }
        if (value.length == 0) {
            if (get(w, id, COMPRESSION_PROP_NAME) != null) remove(id, name);
            else if ((flags & FsOperations.XATTR_REPLACE) != 0) throw new FsException(Errno.ENODATA, "no xattr " + name);
        } else {
            store(id, COMPRESSION_PROP_NAME, value, flags);
        }
        applyCompression(id, v);
    }

    /**
     * The compression a property value names (it need only begin with it, as the kernel checks), or null for
     * none of them.
     */
    static CompressionType compressionOf(String value) {
        for (CompressionType t : new CompressionType[] {CompressionType.ZLIB, CompressionType.LZO,
                CompressionType.ZSTD}) {
            if (value.startsWith(t.displayName())) return t;
        }
        return null;
    }

    /** The inode's flags after the compression property became {@code value} ("" when removed). */
    private void applyCompression(InodeId id, String value) throws FsException {
        InodeItem i = w.load(id);
        long flags = i.flags() & ~(InodeItem.FLAG_COMPRESS | InodeItem.FLAG_NOCOMPRESS);
        CompressionType t = compressionOf(value);
        if (t != null) flags |= InodeItem.FLAG_COMPRESS;
        else if (!value.isEmpty()) flags |= InodeItem.FLAG_NOCOMPRESS;
        if (t != null) w.manager().requireIncompat(t.incompatBit());
        if (flags != i.flags()) w.save(id, w.load(id).withFlags(flags));
    }

    /**
     * chattr (≈ btrfs_fileattr_set): the flags {@link InodeFlags#apply} allows; +c also records the compression
     * property as {@code compressionName}, and without +c the property goes. The flags set here win over what the
     * property would apply, as in the kernel.
     */
    void setFileFlags(InodeId id, long fsFlags, String compressionName) throws FsException {
        w.checkWritable(id.root());
        w.reserveMetadata(4);
        InodeItem i = w.load(id);
        long flags = InodeFlags.apply(i.flags(), fsFlags, i.mode(), i.size());
        if ((flags & InodeItem.FLAG_COMPRESS) != 0) {
            store(id, COMPRESSION_PROP_NAME, compressionName.getBytes(StandardCharsets.US_ASCII), 0);
            w.manager().requireIncompat(compressionOf(compressionName).incompatBit());
        } else if (get(w, id, COMPRESSION_PROP_NAME) != null) {
            drop(id, COMPRESSION_PROP);
        }
        i = w.load(id);
        w.save(id, i.withFlags(flags).withTimes(i.atime(), w.time(), i.mtime()));
    }

    /** A new file or directory takes its parent's compression property, as the kernel's inherit_props does. */
    void inheritProperties(InodeId dir, InodeId child) throws FsException {
        byte[] value = get(w, dir, COMPRESSION_PROP_NAME);
        if (value == null || value.length == 0) return;
        int type = w.load(child).mode() & Stat.S_IFMT;
        if (type != Stat.S_IFREG && type != Stat.S_IFDIR) return;
        store(child, COMPRESSION_PROP_NAME, value, 0);
        applyCompression(child, new String(value, StandardCharsets.ISO_8859_1));
    }

    /** The value of xattr {@code name} of {@code id}, or null. */
    static byte[] get(InodeWriter w, InodeId id, byte[] name) throws FsException {
        Cursor c = w.tree(id.root()).find(new Key(id.objectid(), KeyType.XATTR_ITEM, NameHash.of(name)));
        if (c == null) return null;
        for (DirItem d : Subvolumes.readDirItems(c)) if (Arrays.equals(d.name(), name)) return d.data();
        return null;
    }

    private void store(InodeId id, byte[] n, byte[] value, int flags) throws FsException {
        put(id, n, value, flags);
        touch(id);
    }

    /** Stores xattr {@code n} without touching ctime (a new inode's ACLs: its times are those of its creation). */
    void put(InodeId id, byte[] n, byte[] value, int flags) throws FsException {
        String name = new String(n, StandardCharsets.UTF_8);
        Key key = new Key(id.objectid(), KeyType.XATTR_ITEM, NameHash.of(n));
        List<DirItem> items = read(id, key);
        boolean exists = items.removeIf(d -> Arrays.equals(d.name(), n));
        if (exists && (flags & FsOperations.XATTR_CREATE) != 0) throw new FsException(Errno.EEXIST, "xattr " + name + " exists");
        if (!exists && (flags & FsOperations.XATTR_REPLACE) != 0) throw new FsException(Errno.ENODATA, "no xattr " + name);
        items.add(new DirItem(new Key(0, 0, 0), w.transid(), DirItem.FT_XATTR, n, value.clone()));
        byte[] data = DirItem.encodeAll(items);
        // the kernel's limit: the whole item must fit in one leaf (ENOSPC past it)
        if (data.length > w.tx().editor().maxItemData()) throw new FsException(Errno.ENOSPC, "xattr value too large");
        w.reserveMetadata(3);
        w.tx().editor().put(w.root(id.root()), key, data);
    }

    void remove(InodeId id, String name) throws FsException {
        w.checkWritable(id.root());
        InodeWriter.refuseIf(w.load(id), InodeWriter.IMMUTABLE_OR_APPEND, id, "removexattr");
        if (name.startsWith("btrfs.") && !name.equals(COMPRESSION_PROP)) {
            throw new FsException(Errno.EINVAL, "no property " + name);
        }
        drop(id, name);
        if (name.equals(COMPRESSION_PROP)) applyCompression(id, "");
    }

    /** Deletes xattr {@code name} ({@link Errno#ENODATA} when it is not there) and updates ctime. */
    private void drop(InodeId id, String name) throws FsException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        Key key = new Key(id.objectid(), KeyType.XATTR_ITEM, NameHash.of(n));
        List<DirItem> items = read(id, key);
        if (!items.removeIf(d -> Arrays.equals(d.name(), n))) throw new FsException(Errno.ENODATA, "no xattr " + name);
        w.reserveMetadata(3);
        if (items.isEmpty()) w.tx().editor().delete(w.root(id.root()), key);
        else w.tx().editor().put(w.root(id.root()), key, DirItem.encodeAll(items));
        touch(id);
    }

    private List<DirItem> read(InodeId id, Key key) throws FsException {
        Cursor c = w.tree(id.root()).find(key);
        return c == null ? new ArrayList<>() : new ArrayList<>(Subvolumes.readDirItems(c));
    }

    private void touch(InodeId id) throws FsException {
        InodeItem i = w.load(id);
        w.save(id, i.withTimes(i.atime(), w.time(), i.mtime()));
    }
}
