package jbtrfs.fuse.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.format.Key;
import jbtrfs.format.Timespec;
import jbtrfs.fs.SubvolumeInfo;
import jbtrfs.fs.TreeSearchItem;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * The btrfs ioctl numbers and struct layouts against include/uapi/linux/btrfs.h itself: a C program compiled
 * against the installed header prints each number, size and offset (skipped without gcc or the header), and the
 * codecs put each field where that program says.
 */
class BtrfsIoctlTest {
    private static final String PROGRAM = """
            #include <stdio.h>
            #include <stddef.h>
            #include <linux/btrfs.h>
            #include <linux/fs.h>
            #define N(x) printf(#x " %lu\\n", (unsigned long)(x))
            #define O(s, f) printf(#s "." #f " %lu\\n", (unsigned long)offsetof(struct s, f))
            int main(void) {
                N(BTRFS_IOC_SNAP_CREATE); N(BTRFS_IOC_SYNC); N(BTRFS_IOC_SUBVOL_CREATE); N(BTRFS_IOC_SNAP_DESTROY);
                N(BTRFS_IOC_TREE_SEARCH); N(BTRFS_IOC_TREE_SEARCH_V2); N(BTRFS_IOC_INO_LOOKUP);
                N(BTRFS_IOC_DEFAULT_SUBVOL); N(BTRFS_IOC_SPACE_INFO); N(BTRFS_IOC_SNAP_CREATE_V2);
                N(BTRFS_IOC_SUBVOL_CREATE_V2); N(BTRFS_IOC_SUBVOL_GETFLAGS); N(BTRFS_IOC_SUBVOL_SETFLAGS);
                N(BTRFS_IOC_FS_INFO); N(BTRFS_IOC_GET_FEATURES); N(BTRFS_IOC_GET_SUBVOL_INFO);
                N(BTRFS_IOC_SNAP_DESTROY_V2); N(BTRFS_SUBVOL_RDONLY); N(BTRFS_SUBVOL_SPEC_BY_ID);
                N(FITRIM); N(sizeof(struct fstrim_range)); N(BTRFS_IOC_DEV_INFO); N(sizeof(struct btrfs_ioctl_dev_info_args));
                O(btrfs_ioctl_dev_info_args, uuid); O(btrfs_ioctl_dev_info_args, bytes_used);
                O(btrfs_ioctl_dev_info_args, total_bytes); O(btrfs_ioctl_dev_info_args, path);
                O(btrfs_ioctl_fs_info_args, max_id); O(btrfs_ioctl_fs_info_args, num_devices);
                N(sizeof(struct btrfs_ioctl_search_key)); N(sizeof(struct btrfs_ioctl_search_header));
                N(sizeof(struct btrfs_ioctl_space_info)); N(sizeof(struct btrfs_ioctl_space_args));
                O(btrfs_ioctl_vol_args, name); O(btrfs_ioctl_vol_args_v2, flags); O(btrfs_ioctl_vol_args_v2, name);
                O(btrfs_ioctl_ino_lookup_args, name);
                O(btrfs_ioctl_search_key, min_objectid); O(btrfs_ioctl_search_key, max_objectid);
                O(btrfs_ioctl_search_key, min_offset); O(btrfs_ioctl_search_key, max_offset);
                O(btrfs_ioctl_search_key, min_transid); O(btrfs_ioctl_search_key, max_transid);
                O(btrfs_ioctl_search_key, min_type); O(btrfs_ioctl_search_key, max_type);
                O(btrfs_ioctl_search_key, nr_items); O(btrfs_ioctl_search_args_v2, buf_size);
                O(btrfs_ioctl_get_subvol_info_args, name); O(btrfs_ioctl_get_subvol_info_args, parent_id);
                O(btrfs_ioctl_get_subvol_info_args, dirid); O(btrfs_ioctl_get_subvol_info_args, generation);
                O(btrfs_ioctl_get_subvol_info_args, flags); O(btrfs_ioctl_get_subvol_info_args, uuid);
                O(btrfs_ioctl_get_subvol_info_args, parent_uuid); O(btrfs_ioctl_get_subvol_info_args, received_uuid);
                O(btrfs_ioctl_get_subvol_info_args, ctransid); O(btrfs_ioctl_get_subvol_info_args, rtransid);
                O(btrfs_ioctl_get_subvol_info_args, ctime); O(btrfs_ioctl_get_subvol_info_args, otime);
                O(btrfs_ioctl_get_subvol_info_args, rtime);
                return 0;
            }
            """;

    @TempDir
    Path dir;

    @Test
    void numbersAndOffsets_areTheUapiHeaders() throws Exception {
        Map<String, Long> c = compiled();
        assertEquals(c.get("BTRFS_IOC_SNAP_CREATE"), u(BtrfsIoctl.SNAP_CREATE));
        assertEquals(c.get("BTRFS_IOC_SYNC"), u(BtrfsIoctl.SYNC));
        assertEquals(c.get("BTRFS_IOC_SUBVOL_CREATE"), u(BtrfsIoctl.SUBVOL_CREATE));
        assertEquals(c.get("BTRFS_IOC_SNAP_DESTROY"), u(BtrfsIoctl.SNAP_DESTROY));
        assertEquals(c.get("BTRFS_IOC_TREE_SEARCH"), u(BtrfsIoctl.TREE_SEARCH));
        assertEquals(c.get("BTRFS_IOC_TREE_SEARCH_V2"), u(BtrfsIoctl.TREE_SEARCH_V2));
        assertEquals(c.get("BTRFS_IOC_INO_LOOKUP"), u(BtrfsIoctl.INO_LOOKUP));
        assertEquals(c.get("BTRFS_IOC_DEFAULT_SUBVOL"), u(BtrfsIoctl.DEFAULT_SUBVOL));
        assertEquals(c.get("BTRFS_IOC_SPACE_INFO"), u(BtrfsIoctl.SPACE_INFO));
        assertEquals(c.get("BTRFS_IOC_SNAP_CREATE_V2"), u(BtrfsIoctl.SNAP_CREATE_V2));
        assertEquals(c.get("BTRFS_IOC_SUBVOL_CREATE_V2"), u(BtrfsIoctl.SUBVOL_CREATE_V2));
        assertEquals(c.get("BTRFS_IOC_SUBVOL_GETFLAGS"), u(BtrfsIoctl.SUBVOL_GETFLAGS));
        assertEquals(c.get("BTRFS_IOC_SUBVOL_SETFLAGS"), u(BtrfsIoctl.SUBVOL_SETFLAGS));
        assertEquals(c.get("BTRFS_IOC_FS_INFO"), u(BtrfsIoctl.FS_INFO));
        assertEquals(c.get("BTRFS_IOC_GET_FEATURES"), u(BtrfsIoctl.GET_FEATURES));
        assertEquals(c.get("BTRFS_IOC_GET_SUBVOL_INFO"), u(BtrfsIoctl.GET_SUBVOL_INFO));
        assertEquals(c.get("BTRFS_IOC_SNAP_DESTROY_V2"), u(BtrfsIoctl.SNAP_DESTROY_V2));
        assertEquals(c.get("FITRIM"), u(BtrfsIoctl.FITRIM));
        assertEquals(c.get("sizeof(struct fstrim_range)"), BtrfsIoctl.FSTRIM_RANGE_SIZE);
        assertEquals(c.get("BTRFS_IOC_DEV_INFO"), u(BtrfsIoctl.DEV_INFO));
        assertEquals(c.get("sizeof(struct btrfs_ioctl_dev_info_args)"), BtrfsIoctl.DEV_INFO_SIZE);
        assertEquals(c.get("btrfs_ioctl_dev_info_args.uuid"), BtrfsIoctl.DEV_INFO_UUID);
        assertEquals(c.get("btrfs_ioctl_dev_info_args.bytes_used"), BtrfsIoctl.DEV_INFO_BYTES_USED);
        assertEquals(c.get("btrfs_ioctl_dev_info_args.total_bytes"), BtrfsIoctl.DEV_INFO_TOTAL_BYTES);
        assertEquals(c.get("btrfs_ioctl_dev_info_args.path"), BtrfsIoctl.DEV_INFO_PATH);
        assertEquals(c.get("btrfs_ioctl_fs_info_args.max_id"), BtrfsIoctl.FS_INFO_MAX_ID);
        assertEquals(c.get("btrfs_ioctl_fs_info_args.num_devices"), BtrfsIoctl.FS_INFO_NUM_DEVICES);
        assertEquals(c.get("BTRFS_SUBVOL_RDONLY"), BtrfsIoctl.SUBVOL_RDONLY);
        assertEquals(c.get("BTRFS_SUBVOL_SPEC_BY_ID"), BtrfsIoctl.SUBVOL_SPEC_BY_ID);
        assertEquals(c.get("sizeof(struct btrfs_ioctl_search_key)"), BtrfsIoctl.SEARCH_KEY_SIZE);
        assertEquals(c.get("sizeof(struct btrfs_ioctl_search_header)"), TreeSearchItem.HEADER_SIZE);
        assertEquals(c.get("sizeof(struct btrfs_ioctl_space_info)"), BtrfsIoctl.SPACE_INFO_SIZE);
        assertEquals(c.get("sizeof(struct btrfs_ioctl_space_args)"), BtrfsIoctl.SPACE_ARGS_SIZE);
        assertEquals(c.get("btrfs_ioctl_vol_args.name"), BtrfsIoctl.VOL_ARGS_NAME);
        assertEquals(c.get("btrfs_ioctl_vol_args_v2.name"), BtrfsIoctl.VOL_ARGS_V2_NAME);
        assertEquals(c.get("btrfs_ioctl_ino_lookup_args.name"), BtrfsIoctl.INO_LOOKUP_NAME);
        assertEquals(c.get("btrfs_ioctl_search_args_v2.buf_size"), BtrfsIoctl.SEARCH_KEY_SIZE);
    }

    @Test
    void searchKey_fieldsAtTheHeadersOffsets_roundTrip() throws Exception {
        Map<String, Long> c = compiled();
        Key min = new Key(11, 12, 13);
        Key max = new Key(21, 22, 23);
        ByteBuffer b = BtrfsIoctl.buffer(BtrfsIoctl.SEARCH_ARGS_SIZE);
        new BtrfsIoctl.SearchKey(5, min, max, 31, 32, 33).write(b);
        assertEquals(11, b.getLong(at(c, "btrfs_ioctl_search_key.min_objectid")));
        assertEquals(21, b.getLong(at(c, "btrfs_ioctl_search_key.max_objectid")));
        assertEquals(13, b.getLong(at(c, "btrfs_ioctl_search_key.min_offset")));
        assertEquals(23, b.getLong(at(c, "btrfs_ioctl_search_key.max_offset")));
        assertEquals(31, b.getLong(at(c, "btrfs_ioctl_search_key.min_transid")));
        assertEquals(32, b.getLong(at(c, "btrfs_ioctl_search_key.max_transid")));
        assertEquals(12, b.getInt(at(c, "btrfs_ioctl_search_key.min_type")));
        assertEquals(22, b.getInt(at(c, "btrfs_ioctl_search_key.max_type")));
        assertEquals(33, b.getInt(at(c, "btrfs_ioctl_search_key.nr_items")));
        assertEquals(new BtrfsIoctl.SearchKey(5, min, max, 31, 32, 33), BtrfsIoctl.SearchKey.read(b));
        assertEquals(BtrfsIoctl.SEARCH_NR_ITEMS, at(c, "btrfs_ioctl_search_key.nr_items"));
        b.putInt(at(c, "btrfs_ioctl_search_key.max_type"), -1);
        assertEquals(0xff, BtrfsIoctl.SearchKey.read(b).max().type(), "a u32 type of -1 is the largest u8 type");

        List<TreeSearchItem> items = List.of(new TreeSearchItem(7, new Key(256, 132, 0), new byte[] {1, 2, 3}),
                new TreeSearchItem(8, new Key(257, 144, 5), new byte[0]));
        BtrfsIoctl.putSearchItems(b, BtrfsIoctl.SEARCH_KEY_SIZE, items);
        // struct btrfs_ioctl_search_header: transid, objectid, offset, type, len
        assertEquals(256, b.getLong(BtrfsIoctl.SEARCH_KEY_SIZE + 8));
        assertEquals(132, b.getInt(BtrfsIoctl.SEARCH_KEY_SIZE + 24));
        assertEquals(3, b.getInt(BtrfsIoctl.SEARCH_KEY_SIZE + 28));
        List<TreeSearchItem> back = BtrfsIoctl.searchItems(b, BtrfsIoctl.SEARCH_KEY_SIZE, 2);
        for (int i = 0; i < 2; i++) {
            assertEquals(items.get(i).transid(), back.get(i).transid());
            assertEquals(items.get(i).key(), back.get(i).key());
            assertArrayEquals(items.get(i).data(), back.get(i).data());
        }
    }

    @Test
    void subvolInfo_fieldsAtTheHeadersOffsets_roundTrip() throws Exception {
        Map<String, Long> c = compiled();
        byte[] uuid = filled(1);
        byte[] parent = filled(2);
        byte[] received = filled(3);
        SubvolumeInfo info = new SubvolumeInfo(257, "snap", 5, 256, 9, 1, uuid, parent, received, 10, 11, 12,
                13, new Timespec(100, 1), new Timespec(200, 2), new Timespec(300, 3), new Timespec(400, 4));
        ByteBuffer b = BtrfsIoctl.encodeSubvolInfo(info);
        assertEquals(BtrfsIoctl.SUBVOL_INFO_SIZE, b.capacity());
        assertEquals('s', b.get(at(c, "btrfs_ioctl_get_subvol_info_args.name")));
        assertEquals(5, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.parent_id")));
        assertEquals(256, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.dirid")));
        assertEquals(9, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.generation")));
        assertEquals(1, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.flags")));
        assertEquals(1, b.get(at(c, "btrfs_ioctl_get_subvol_info_args.uuid")));
        assertEquals(2, b.get(at(c, "btrfs_ioctl_get_subvol_info_args.parent_uuid")));
        assertEquals(3, b.get(at(c, "btrfs_ioctl_get_subvol_info_args.received_uuid")));
        assertEquals(10, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.ctransid")));
        assertEquals(13, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.rtransid")));
        assertEquals(100, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.ctime")));
        assertEquals(200, b.getLong(at(c, "btrfs_ioctl_get_subvol_info_args.otime")));
        assertEquals(4, b.getInt(at(c, "btrfs_ioctl_get_subvol_info_args.rtime") + 8));
        SubvolumeInfo back = BtrfsIoctl.decodeSubvolInfo(b);
        assertEquals(info.name(), back.name());
        assertArrayEquals(parent, back.parentUuid());
        assertEquals(info.rtime(), back.rtime());
        assertEquals(info.stransid(), back.stransid());
    }

    private static long u(int cmd) {
        return Integer.toUnsignedLong(cmd);
    }

    private static int at(Map<String, Long> c, String field) {
        return Math.toIntExact(c.get(field));
    }

    private static byte[] filled(int v) {
        byte[] b = new byte[16];
        Arrays.fill(b, (byte) v);
        return b;
    }

    /** What the C program prints: name to value. */
    private Map<String, Long> compiled() throws Exception {
        Prereq.requireBinary("gcc", "apt-get install gcc");
        Prereq.require(Files.exists(Path.of("/usr/include/linux/btrfs.h")),
                "/usr/include/linux/btrfs.h is missing (apt-get install linux-libc-dev)");
        Path src = Files.writeString(dir.resolve("uapi.c"), PROGRAM);
        Path exe = dir.resolve("uapi");
        Shell.run(List.of("gcc", "-o", exe.toString(), src.toString()));
        Map<String, Long> out = new HashMap<>();
        for (String line : Shell.run(List.of(exe.toString())).split("\n")) {
            int sp = line.lastIndexOf(' ');
            out.put(line.substring(0, sp), Long.parseUnsignedLong(line.substring(sp + 1)));
        }
        return out;
    }
}
