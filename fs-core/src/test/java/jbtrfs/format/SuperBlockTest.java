package jbtrfs.format;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/** Our superblock decoder against what {@code btrfs inspect-internal dump-super} prints for the same image. */
class SuperBlockTest {
    @TempDir
    Path tmp;

    @Test
    void sizes_matchTheKernelStructs() {
        assertEquals(17, Key.SIZE);
        assertEquals(25, Item.SIZE);
        assertEquals(33, KeyPtr.SIZE);
        assertEquals(101, Header.SIZE);
        assertEquals(98, DevItem.SIZE);
        assertEquals(160, InodeItem.SIZE);
        assertEquals(12, Timespec.SIZE);
        assertEquals(InodeItem.SIZE, InodeItem.OFFSET_OTIME + Timespec.SIZE);
        assertEquals(439, RootItem.SIZE);
        assertEquals(32, Stripe.SIZE);
        assertEquals(48 + 32, ChunkItem.size(1));
        assertEquals(24, BlockGroupItem.SIZE);
        assertEquals(53, FileExtentItem.SIZE_REGULAR);
        assertEquals(30, DirItem.SIZE_WITHOUT_NAME);
    }

    @Test
    void decode_matchesDumpSuper() throws Exception {
        Prereq.requireBinary("btrfs", "apt-get install btrfs-progs");
        Path image = tmp.resolve("sb.img");
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(300L << 20);
        }
        run("mkfs.btrfs", "-q", "-f", "-L", "label-x", "-n", "32768", "--csum", "xxhash", image.toString());
        Map<String, String> want = new HashMap<>();
        for (String line : run("btrfs", "inspect-internal", "dump-super", image.toString()).split("\n")) {
            String[] kv = line.trim().split("\\s+", 2);
            if (kv.length == 2) want.putIfAbsent(kv[0], kv[1]);
        }
        ByteBuffer raw = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        try (var ch = FileChannel.open(image)) {
            ch.read(raw, SuperBlock.MIRROR_OFFSETS[0]);
        }
        SuperBlock sb = SuperBlock.decode(raw.flip());
        assertEquals(want.get("generation"), Long.toString(sb.generation()));
        assertEquals(want.get("root"), Long.toString(sb.root()));
        assertEquals(want.get("chunk_root"), Long.toString(sb.chunkRoot()));
        assertEquals(want.get("chunk_root_generation"), Long.toString(sb.chunkRootGeneration()));
        assertEquals(want.get("root_level"), Integer.toString(sb.rootLevel()));
        assertEquals(want.get("total_bytes"), Long.toString(sb.totalBytes()));
        assertEquals(want.get("bytes_used"), Long.toString(sb.bytesUsed()));
        assertEquals(want.get("sectorsize"), Integer.toString(sb.sectorsize()));
        assertEquals(want.get("nodesize"), Integer.toString(sb.nodesize()));
        assertEquals(want.get("sys_array_size"), Integer.toString(sb.sysChunkArraySize()));
        assertEquals(want.get("num_devices"), Long.toString(sb.numDevices()));
        assertEquals(want.get("label"), sb.label());
        assertEquals(want.get("fsid"), Uuids.format(sb.fsid()));
        assertEquals(want.get("csum_type"), sb.csumType() + " (xxhash64)");
        assertEquals(want.get("compat_ro_flags"), "0x" + Long.toHexString(sb.compatRoFlags()));
        assertEquals(want.get("incompat_flags"), "0x" + Long.toHexString(sb.incompatFlags()));
        assertEquals(want.get("dev_item.total_bytes"), Long.toString(sb.devItem().totalBytes()));
        assertEquals(want.get("dev_item.devid"), Long.toString(sb.devItem().devid()));
        assertEquals(want.get("dev_item.uuid"), Uuids.format(sb.devItem().uuid()));
        assertEquals(List.of("mixed_backref", "extended_iref", "skinny_metadata", "no_holes"),
                Features.incompatNames(sb.incompatFlags()));
        assertEquals(List.of("free_space_tree", "free_space_tree_valid"), Features.compatRoNames(sb.compatRoFlags()));
    }

    private static String run(String... cmd) throws Exception {
        return Shell.run(List.of(cmd));
    }
}
