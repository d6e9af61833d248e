package jbtrfs.fs;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.ExistsException;
import jbtrfs.FsException;
import jbtrfs.NameTooLongException;
import jbtrfs.NoDataException;
import jbtrfs.NoSpaceException;
import jbtrfs.csum.NameHash;
import jbtrfs.ctree.Cursor;
import jbtrfs.format.DirItem;
import jbtrfs.format.InodeItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;

/** Extended attributes: XATTR_ITEMs keyed by name hash, laid out as dir items with the value as their data. */
final class XattrWriter {
    private final InodeWriter w;

    XattrWriter(InodeWriter w) {
        this.w = w;
    }

    void set(InodeId id, String name, byte[] value, int flags) throws FsException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        if (n.length > NamespaceWriter.NAME_MAX || n.length == 0) throw new NameTooLongException("xattr name " + name);
        w.checkWritable(id.root());
        Key key = new Key(id.objectid(), KeyType.XATTR_ITEM, NameHash.of(n));
        List<DirItem> items = read(id, key);
        boolean exists = items.removeIf(d -> Arrays.equals(d.name(), n));
        if (exists && (flags & FsOperations.XATTR_CREATE) != 0) throw new ExistsException("xattr " + name + " exists");
        if (!exists && (flags & FsOperations.XATTR_REPLACE) != 0) throw new NoDataException("no xattr " + name);
        items.add(new DirItem(new Key(0, 0, 0), w.transid(), DirItem.FT_XATTR, n, value.clone()));
        byte[] data = DirItem.encodeAll(items);
        // the kernel's limit: the whole item must fit in one leaf (ENOSPC past it)
        if (data.length > w.tx().editor().maxItemData()) throw new NoSpaceException("xattr value too large");
        w.reserveMetadata(3);
        w.tx().editor().put(w.root(id.root()), key, data);
        touch(id);
    }

    void remove(InodeId id, String name) throws FsException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        w.checkWritable(id.root());
        Key key = new Key(id.objectid(), KeyType.XATTR_ITEM, NameHash.of(n));
        List<DirItem> items = read(id, key);
        if (!items.removeIf(d -> Arrays.equals(d.name(), n))) throw new NoDataException("no xattr " + name);
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
        w.save(id, i.withTimes(i.atime(), InodeWriter.now(), i.mtime()));
    }
}
