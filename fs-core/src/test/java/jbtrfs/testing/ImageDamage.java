package jbtrfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/** Damages images on purpose, finding where things lie with btrfs-progs rather than with our own reader. */
public final class ImageDamage {
    private static final long[] SUPERBLOCKS = {64L << 10, 64L << 20};
    private static final int SUPERBLOCK_SIZE = 4096;
    private static final int CSUM_SIZE = 32;

    private ImageDamage() {
    }

    /** Inverts some bits of the byte at {@code offset}. */
    public static void flipByte(Path image, long offset) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.seek(offset);
            int b = raf.read();
            raf.seek(offset);
            raf.write(b ^ 0x5a);
        }
    }

    /** Changes both superblock copies of a crc32c image (below 256 GiB) and re-seals their checksums. */
    public static void patchSuperblocks(Path image, Consumer<ByteBuffer> patch) throws IOException {
        for (long off : SUPERBLOCKS) patchSealed(image, off, SUPERBLOCK_SIZE, patch);
    }

    /**
     * Changes the tree block of a crc32c image at physical offset {@code at} (one copy: see
     * {@link #physicalCopies}) and re-seals its checksum, so that the checks behind the checksum meet the change.
     */
    public static void patchTreeBlock(Path image, long at, int nodesize, Consumer<ByteBuffer> patch)
            throws IOException {
        patchSealed(image, at, nodesize, patch);
    }

    /** Patches {@code length} bytes at {@code at}, then writes the crc32c of all but the checksum field in front. */
    private static void patchSealed(Path image, long at, int length, Consumer<ByteBuffer> patch) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            byte[] raw = new byte[length];
            raf.seek(at);
            raf.readFully(raw);
            ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            patch.accept(b);
            CRC32C crc = new CRC32C();
            crc.update(raw, CSUM_SIZE, length - CSUM_SIZE);
            b.putInt(0, (int) crc.getValue());
            raf.seek(at);
            raf.write(raw);
        }
    }

    /** The physical offset of the first copy of {@code logical}, as btrfs-map-logical says. */
    public static long physical(Path image, long logical) throws IOException, InterruptedException {
        return physicalCopies(image, logical).get(0);
    }

    /** Physical offsets of every copy of {@code logical}, as btrfs-map-logical says. */
    public static List<Long> physicalCopies(Path image, long logical) throws IOException, InterruptedException {
        String map = Shell.run(List.of("btrfs-map-logical", "-l", Long.toString(logical), image.toString()));
        Matcher m = Pattern.compile("mirror \\d+ logical \\d+ physical (\\d+)").matcher(map);
        List<Long> out = new java.util.ArrayList<>();
        while (m.find()) out.add(Long.parseLong(m.group(1)));
        if (out.isEmpty()) throw new IOException("btrfs-map-logical did not map " + logical + ": " + map);
        return out;
    }

    /** The disk bytenr of the extent at file offset 0 of the file named {@code name} in the top-level tree. */
    public static long firstExtentOf(Path image, String name) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", image.toString()));
        Matcher ref = Pattern.compile("key \\((\\d+) INODE_REF \\d+\\)[^\\n]*\\n[^\\n]*name: " + Pattern.quote(name)
                + "\\n").matcher(dump);
        if (!ref.find()) throw new IOException("no inode ref named " + name + " in dump-tree");
        Matcher ext = Pattern.compile("key \\(" + ref.group(1) + " EXTENT_DATA 0\\)[^\\n]*\\n[^\\n]*\\n"
                + "\\s*extent data disk byte (\\d+)").matcher(dump);
        if (!ext.find()) throw new IOException("no extent for " + name + " in dump-tree");
        return Long.parseLong(ext.group(1));
    }
}
