package jbtrfs.csum;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jbtrfs.testing.Images;
import jbtrfs.testing.TestImage;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Checks every checksum type against images btrfs-progs and the kernel wrote: the superblock, every tree block of
 * the main trees, and every data sector listed in the csum tree.
 */
class RealImageChecksumTest {
    private static final Pattern BLOCK = Pattern.compile("(?m)^(?:leaf|node) (\\d+) ");

    @TempDir
    Path dir;

    static String mkfsName(ChecksumType type) {
        // mkfs.btrfs --csum spells two of them differently from what dump-super prints.
        return switch (type) {
            case XXHASH64 -> "xxhash";
            case BLAKE2B -> "blake2";
            default -> type.displayName();
        };
    }

    @ParameterizedTest
    @EnumSource(ChecksumType.class)
    void mkfsImage_allChecksumsVerify(ChecksumType type) throws IOException {
        Images.requireMkfs();
        Path root = Files.createDirectories(dir.resolve("rootdir"));
        writeFiles(root);
        TestImage image = TestImage.mkfs(dir.resolve("img"), "--csum", mkfsName(type), "--rootdir", root.toString());
        verifyImage(image, type);
    }

    @ParameterizedTest
    @EnumSource(ChecksumType.class)
    void kernelWrittenImage_allChecksumsVerify(ChecksumType type) throws IOException {
        Images.requireKernelBtrfs();
        try (TestImage image = TestImage.mkfs(dir.resolve("img"), "--csum", mkfsName(type))) {
            writeFiles(image.mount(""));
            image.umount();
            verifyImage(image, type);
        }
    }

    private static void writeFiles(Path root) throws IOException {
        Random random = new Random(42);
        for (int i = 0; i < 5; i++) {
            byte[] data = new byte[1000 + i * 70_000];
            random.nextBytes(data);
            Files.write(root.resolve("file" + i), data);
        }
    }

    private static void verifyImage(TestImage image, ChecksumType type) throws IOException {
        assertEquals(type.code(), image.superField("csum_type"), "csum_type in dump-super");
        int nodesize = (int) image.superField("nodesize");
        int sectorsize = (int) image.superField("sectorsize");

        // Superblock: checksum of bytes 32..4095, stored in bytes 0..31 (zero past size()).
        byte[] sb = new byte[4096];
        try (RandomAccessFile f = new RandomAccessFile(image.path().toFile(), "r")) {
            f.seek(65536);
            f.readFully(sb);
        }
        byte[] csum = new byte[32];
        type.compute(ByteBuffer.wrap(sb), 32, 4096 - 32, csum);
        assertArrayEquals(Arrays.copyOf(sb, 32), csum, "superblock checksum");

        // Tree blocks: checksum of bytes 32..nodesize; direct buffers as the device layer will hand them over.
        int blocks = 0;
        ByteBuffer direct = ByteBuffer.allocateDirect(nodesize);
        for (String tree : new String[] {"root", "chunk", "extent", "dev", "fs", "csum"}) {
            Matcher m = BLOCK.matcher(image.dumpTree(tree));
            while (m.find()) {
                byte[] block = image.readLogical(Long.parseLong(m.group(1)), nodesize);
                direct.clear();
                direct.put(block).clear();
                assertTrue(type.matches(direct, 32, nodesize - 32, ByteBuffer.wrap(block), 0),
                        type + " tree block " + m.group(1) + " of tree " + tree);
                blocks++;
            }
        }
        assertTrue(blocks >= 6, "tree blocks checked: " + blocks);

        // Data: one checksum per sector, packed in EXTENT_CSUM items keyed by the first sector's logical address.
        int sectors = 0;
        for (TestImage.Item item : image.items("csum")) {
            if (!item.type().equals("EXTENT_CSUM")) {
                continue;
            }
            byte[] csums = image.itemData(item, nodesize);
            assertEquals(0, csums.length % type.size(), "EXTENT_CSUM item size");
            long start = item.offsetValue();
            int count = csums.length / type.size();
            byte[] data = image.readLogical(start, count * sectorsize);
            for (int i = 0; i < count; i++) {
                assertTrue(type.matches(ByteBuffer.wrap(data), i * sectorsize, sectorsize, ByteBuffer.wrap(csums),
                        i * type.size()), type + " data sector at " + (start + (long) i * sectorsize));
                sectors++;
            }
        }
        assertTrue(sectors >= 70, "data sectors checked: " + sectors);
        System.out.printf("%s: superblock, %d tree blocks, %d data sectors verified%n", type, blocks, sectors);
    }
}
