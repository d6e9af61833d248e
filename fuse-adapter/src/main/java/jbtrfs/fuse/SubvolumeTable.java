package jbtrfs.fuse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import jbtrfs.format.DirItem;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;
import jbtrfs.format.RootRef;
import jbtrfs.fs.TreeSearchItem;
import jbtrfs.fuse.node.BtrfsIoctl;

/**
 * The subvolumes of a mount as {@code btrfs subvolume list} finds them: the root tree's ROOT_ITEMs and ROOT_BACKREFs
 * through TREE_SEARCH, each path put together from its parents' paths and INO_LOOKUP of the directory holding it.
 */
final class SubvolumeTable {
    /** One subvolume: its root item and where it is linked ({@code parent} 0 when it has no backref). */
    record Row(long id, long parent, String path, RootItem item, long rootOffset) {
        private static final DateTimeFormatter OTIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

        /** A snapshot's root item key carries the transid it was taken in; a plain subvolume's 0. */
        boolean snapshot() { return rootOffset != 0; }

        /** {@code ID 256 gen 9 top level 5 path sv}, with cgen and otime for {@code -s}. */
        String line(boolean withOrigin) {
            String origin = withOrigin ? " cgen " + item.otransid() + " top level " + parent + " otime "
                    + otime() : " top level " + parent;
            return "ID " + id + " gen " + item.generation() + origin + " path " + path;
        }

        private String otime() {
            return OTIME.format(LocalDateTime.ofInstant(Instant.ofEpochSecond(item.otime().sec()),
                    ZoneId.systemDefault()));
        }
    }

    private SubvolumeTable() {
    }

    /**
     * Every linked subvolume but the top level, by id; paths as btrfs-progs' resolve_root makes them: from the top
     * level, except below the subvolume of the path asked on (a subvol= mount, or a subvolume's directory), where
     * they start from it.
     */
    static List<Row> read(BtrfsIoctlClient mount) throws CliException {
        return read(mount, subvolumeOf(mount));
    }

    /** Every linked subvolume but the top level, by id; paths start below subvolume {@code top} where they can. */
    static List<Row> read(BtrfsIoctlClient mount, long top) throws CliException {
        Map<Long, RootItem> items = new TreeMap<>(Long::compareUnsigned);
        Map<Long, Long> offsets = new TreeMap<>();
        Map<Long, long[]> refs = new TreeMap<>();
        Map<Long, String> names = new TreeMap<>();
        for (TreeSearchItem it : search(mount, ObjectIds.ROOT_TREE, new Key(ObjectIds.FS_TREE, KeyType.ROOT_ITEM, 0),
                new Key(ObjectIds.LAST_FREE, KeyType.ROOT_BACKREF, -1L))) {
            long id = it.key().objectid();
            ByteBuffer d = ByteBuffer.wrap(it.data()).order(ByteOrder.LITTLE_ENDIAN);
            if (it.key().type() == KeyType.ROOT_BACKREF) {
                RootRef ref = RootRef.read(d, 0, it.data().length);
                refs.put(id, new long[] {it.key().offset(), ref.dirid()});
                names.put(id, new String(ref.name(), StandardCharsets.UTF_8));
            } else if (it.key().type() == KeyType.ROOT_ITEM && ObjectIds.isSubvolume(id)) {
                items.put(id, RootItem.read(d, 0, it.data().length));
                offsets.put(id, it.key().offset());
            }
        }
        Map<Long, String> paths = new TreeMap<>();
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<Long, RootItem> e : items.entrySet()) {
            long id = e.getKey();
            if (!refs.containsKey(id)) continue; // the top level, or a deleted subvolume waiting for the cleaner
            rows.add(new Row(id, refs.get(id)[0], path(mount, top, id, refs, names, paths), e.getValue(),
                    offsets.get(id)));
        }
        return rows;
    }

    private static String path(BtrfsIoctlClient mount, long top, long id, Map<Long, long[]> refs,
                               Map<Long, String> names, Map<Long, String> paths) throws CliException {
        String known = paths.get(id);
        if (known != null) return known;
        long[] ref = refs.get(id);
        if (ref == null) return "";
        String parent = ref[0] == ObjectIds.FS_TREE || ref[0] == top ? ""
                : path(mount, top, ref[0], refs, names, paths);
        String dir = inoLookup(mount, ref[0], ref[1]);
        String p = (parent.isEmpty() ? "" : parent + "/") + dir + names.get(id);
        paths.put(id, p);
        return p;
    }

    /** The subvolume the mount's path lies in: INO_LOOKUP of tree 0 (its own), as lookup_path_rootid asks. */
    static long subvolumeOf(BtrfsIoctlClient mount) throws CliException {
        ByteBuffer a = BtrfsIoctlClient.buffer(BtrfsIoctl.INO_LOOKUP_SIZE);
        a.putLong(0, 0).putLong(8, ObjectIds.FIRST_FREE_DIR);
        mount.ioctl(BtrfsIoctl.INO_LOOKUP, a, "cannot resolve rootid for path");
        return a.getLong(0);
    }

    /** INO_LOOKUP: the path of directory {@code dirid} inside subvolume {@code tree}, "a/b/" or "". */
    static String inoLookup(BtrfsIoctlClient mount, long tree, long dirid) throws CliException {
        ByteBuffer a = BtrfsIoctlClient.buffer(BtrfsIoctl.INO_LOOKUP_SIZE);
        a.putLong(0, tree).putLong(8, dirid);
        mount.ioctl(BtrfsIoctl.INO_LOOKUP, a, "cannot resolve the path of a subvolume under");
        byte[] name = BtrfsIoctl.name(a, BtrfsIoctl.INO_LOOKUP_NAME, BtrfsIoctl.INO_LOOKUP_PATH_MAX - 1);
        return name == null ? "" : new String(name, StandardCharsets.UTF_8);
    }

    /** The default subvolume: the root tree's "default" dir item in ROOT_TREE_DIR, 5 when it has none. */
    static long defaultSubvolume(BtrfsIoctlClient mount) throws CliException {
        for (TreeSearchItem it : search(mount, ObjectIds.ROOT_TREE,
                Key.first(ObjectIds.ROOT_TREE_DIR, KeyType.DIR_ITEM), Key.last(ObjectIds.ROOT_TREE_DIR,
                        KeyType.DIR_ITEM))) {
            for (DirItem d : DirItem.readAll(ByteBuffer.wrap(it.data()).order(ByteOrder.LITTLE_ENDIAN), 0,
                    it.data().length)) {
                if (new String(d.name(), StandardCharsets.UTF_8).equals("default")) return d.location().objectid();
            }
        }
        return ObjectIds.FS_TREE;
    }

    /** TREE_SEARCH from {@code min} to {@code max}, in as many calls as the 4 KiB buffer takes. */
    static List<TreeSearchItem> search(BtrfsIoctlClient mount, long tree, Key min, Key max) throws CliException {
        List<TreeSearchItem> all = new ArrayList<>();
        Key from = min;
        while (true) {
            ByteBuffer a = BtrfsIoctlClient.buffer(BtrfsIoctl.SEARCH_ARGS_SIZE);
            new BtrfsIoctl.SearchKey(tree, from, max, 0, -1L, 4096).write(a);
            mount.ioctl(BtrfsIoctl.TREE_SEARCH, a, "cannot search the trees of");
            int n = a.getInt(BtrfsIoctl.SEARCH_NR_ITEMS);
            if (n == 0) return all;
            List<TreeSearchItem> got = BtrfsIoctl.searchItems(a, BtrfsIoctl.SEARCH_KEY_SIZE, n);
            all.addAll(got);
            Key last = got.get(got.size() - 1).key();
            from = next(last);
            if (from == null || from.compareTo(max) > 0) return all;
        }
    }

    /** The key just after {@code k}; null after the last one. */
    private static Key next(Key k) {
        if (k.offset() != -1L) return new Key(k.objectid(), k.type(), k.offset() + 1);
        if (k.type() != 0xff) return new Key(k.objectid(), k.type() + 1, 0);
        if (k.objectid() != -1L) return new Key(k.objectid() + 1, 0, 0);
        return null;
    }
}
