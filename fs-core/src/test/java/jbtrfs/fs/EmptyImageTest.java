package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.EmptyImage;
import jbtrfs.testing.Images;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TestImage;

/**
 * The in-memory empty image ({@link EmptyImage}) is a filesystem btrfs-progs accepts, our read-write open serves,
 * and that has the shape of what mkfs.btrfs makes: the unit tests that use it test what they would on a real one.
 */
class EmptyImageTest {
    @TempDir
    Path dir;

    @Test
    void emptyImage_passesBtrfsCheck() throws Exception {
        requireBtrfs();
        BtrfsCheck.assertClean(file(EmptyImage.format(1, 1_700_000_000L)), "the empty image");
    }

    @Test
    void emptyImage_opensReadWriteAndCommitsClean() throws Exception {
        MemoryBlockDevice dev = EmptyImage.device(2);
        byte[] data = "written into the empty image".getBytes(StandardCharsets.UTF_8);
        try (Filesystem fs = Filesystem.open(dev, MountOptions.readWriteDefaults().withCommitSeconds(0))) {
            FsOperations ops = fs.operations();
            InodeId d = ops.mkdir(ops.root(), "d", 0755, 0, 0);
            InodeId f = ops.mknod(d, "f", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(data));
            ops.write(f, 1 << 20, ByteBuffer.wrap(new byte[256 << 10]));
        }
        SparseBytes after = SparseBytes.of(dev.snapshot());
        try (Filesystem fs = Filesystem.open(PowerCuts.memoryDevice(after), MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId f = ops.lookup(ops.lookup(ops.root(), "d"), "f");
            ByteBuffer back = ByteBuffer.allocate(data.length);
            ops.read(f, 0, back);
            assertArrayEquals(data, back.array());
            assertEquals((1 << 20) + (256 << 10), ops.stat(f).size());
        }
        if (Prereq.onPath("btrfs")) BtrfsCheck.assertCleanWithData(file(after), "the empty image after a commit");
    }

    @Test
    void emptyImage_mountsInTheKernelAndTakesWrites() throws Exception {
        Images.requireKernelBtrfs();
        Path image = file(EmptyImage.format(4, 1_700_000_000L));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        String listing = Images.withKernelMount(image, mnt, "", () -> Shell.sh(
                "echo kernel > f && mkdir d && btrfs subvolume create sv >/dev/null && sync && ls", mnt));
        assertEquals("d\nf\nsv", listing.strip());
        BtrfsCheck.assertCleanWithData(image, "the empty image after the kernel wrote to it");
    }

    /**
     * Every tree holds the same kinds of items at the same keys, of the same sizes, as mkfs.btrfs's image, apart
     * from the addresses of tree blocks, the keys made of uuids, the free extents (they follow where the blocks lie)
     * and the free-space entries mkfs leaves of its temporary block groups; the chunks and dev extents lie at the same
     * addresses.
     */
    @Test
    void emptyImage_hasTheItemsOfMkfs() throws Exception {
        Images.requireMkfs();
        requireBtrfs();
        Path mkfs = Images.mkfs(dir, null, (int) (EmptyImage.SIZE >> 20));
        TestImage ours = TestImage.existing(file(EmptyImage.format(3, 1_700_000_000L)));
        TestImage theirs = TestImage.existing(mkfs);
        for (String tree : List.of("root", "chunk", "extent", "dev", "fs", "csum", "uuid", "free_space",
                "data_reloc")) {
            assertEquals(shape(theirs, tree), shape(ours, tree), tree + " tree");
        }
        for (String field : List.of("total_bytes", "bytes_used", "sectorsize", "nodesize", "stripesize",
                "root_dir", "num_devices", "compat_flags", "sys_array_size", "dev_item.total_bytes",
                "dev_item.bytes_used")) {
            assertEquals(theirs.superField(field), ours.superField(field), field);
        }
    }

    /** The items of a tree as "objectid type offset", tree block addresses and uuid-derived keys blanked. */
    private static List<String> shape(TestImage image, String tree) throws Exception {
        List<String> out = new ArrayList<>();
        for (TestImage.Item i : image.items(tree)) {
            String objectid = i.type().equals("METADATA_ITEM") || i.type().startsWith("UUID_KEY") ? "*"
                    : i.objectid();
            String offset = i.type().startsWith("UUID_KEY") ? "*" : i.offset();
            if (tree.equals("free_space") && (!i.type().equals("FREE_SPACE_INFO")
                    || Long.parseLong(i.objectid()) < EmptyImage.DATA_START)) {
                continue; // free extents follow where the blocks lie; below: mkfs's leftover temporary groups
            }
            out.add(objectid + " " + i.type() + " " + offset + " " + i.itemsize());
        }
        out.sort(null);
        return out;
    }

    private Path file(SparseBytes image) throws Exception {
        Path p = dir.resolve("image-" + System.nanoTime() + ".img");
        image.writeTo(p);
        return p;
    }

    private static void requireBtrfs() {
        Prereq.requireBinary("btrfs", "apt-get install btrfs-progs");
    }
}
