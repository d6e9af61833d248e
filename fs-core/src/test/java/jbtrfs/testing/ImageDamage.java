package jbtrfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
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
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            for (long off : SUPERBLOCKS) patchAndSeal(raf, off, SUPERBLOCK_SIZE, patch);
        }
    }

    /** Reads {@code size} bytes at {@code off}, patches them, re-seals the crc32c in their first bytes, writes them. */
    private static void patchAndSeal(RandomAccessFile raf, long off, int size, Consumer<ByteBuffer> patch)
            throws IOException {
        byte[] raw = new byte[size];
        raf.seek(off);
        raf.readFully(raw);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        patch.accept(b);
        CRC32C crc = new CRC32C();
        crc.update(raw, CSUM_SIZE, size - CSUM_SIZE);
        b.putInt(0, (int) crc.getValue());
        raf.seek(off);
        raf.write(raw);
    }

    /**
     * Changes every copy of the tree block at {@code logical} of a crc32c image and re-seals its checksum, so that
     * the reader's checks past the checksum meet the damage.
     */
    public static void patchTreeBlock(Path image, long logical, int nodesize, Consumer<ByteBuffer> patch)
            throws IOException, InterruptedException {
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            for (long off : physicalCopies(image, logical)) patchAndSeal(raf, off, nodesize, patch);
        }
    }

    /** The logical address of the root block of tree {@code tree} (a dump-tree -t name or id), as dump-tree says. */
    public static long treeRoot(Path image, String tree) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", tree, image.toString()));
        Matcher m = Pattern.compile("(?m)^(?:leaf|node) (\\d+) ").matcher(dump);
        if (!m.find()) throw new IOException("dump-tree -t " + tree + " shows no block: " + dump);
        return Long.parseLong(m.group(1));
    }

    /** The logical addresses of tree {@code tree}'s leaves (a dump-tree -t name or id), in key order. */
    public static List<Long> leaves(Path image, String tree) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", tree, image.toString()));
        Matcher m = Pattern.compile("(?m)^leaf (\\d+) items").matcher(dump);
        List<Long> out = new ArrayList<>();
        while (m.find()) out.add(Long.parseLong(m.group(1)));
        return out;
    }

    /** The physical offset of the first copy of {@code logical}, as btrfs-map-logical says. */
    public static long physical(Path image, long logical) throws IOException, InterruptedException {
        return physicalCopies(image, logical).get(0);
    }

    /**
     * Physical offsets of every copy of {@code logical}, as btrfs-map-logical says; for a block the extent tree does
     * not hold (a log tree's), which btrfs-map-logical will not map, as the chunk tree's stripes say.
     */
    public static List<Long> physicalCopies(Path image, long logical) throws IOException, InterruptedException {
        String map = Shell.run(List.of("btrfs-map-logical", "-l", Long.toString(logical), image.toString()));
        Matcher m = Pattern.compile("mirror \\d+ logical \\d+ physical (\\d+)").matcher(map);
        List<Long> out = new ArrayList<>();
        while (m.find()) out.add(Long.parseLong(m.group(1)));
        if (out.isEmpty()) out = stripeCopies(image, logical);
        if (out.isEmpty()) throw new IOException("btrfs-map-logical did not map " + logical + ": " + map);
        return out;
    }

    /** Physical offsets of {@code logical} in each stripe of the chunk holding it (SINGLE and DUP), from dump-tree. */
    private static List<Long> stripeCopies(Path image, long logical) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "chunk", image.toString()));
        Matcher chunk = Pattern.compile("CHUNK_ITEM (\\d+)\\) itemoff \\d+ itemsize \\d+\\s+length (\\d+)")
                .matcher(dump);
        List<Long> out = new ArrayList<>();
        while (chunk.find()) {
            long start = Long.parseLong(chunk.group(1));
            if (logical < start || logical >= start + Long.parseLong(chunk.group(2))) continue;
            int next = dump.indexOf("CHUNK_ITEM", chunk.end());
            Matcher stripe = Pattern.compile("stripe \\d+ devid \\d+ offset (\\d+)")
                    .matcher(dump.substring(chunk.end(), next < 0 ? dump.length() : next));
            while (stripe.find()) out.add(Long.parseLong(stripe.group(1)) + logical - start);
        }
        return out;
    }

    /** The inode number of the file or directory named {@code name} in the top-level tree (dump-tree). */
    public static long inodeOf(Path image, String name) throws IOException, InterruptedException {
        return inodeOf(Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", image.toString())), name);
    }

    private static long inodeOf(String dump, String name) throws IOException {
        Matcher ref = Pattern.compile("key \\((\\d+) INODE_REF \\d+\\)[^\\n]*\\n[^\\n]*name: " + Pattern.quote(name)
                + "\\n").matcher(dump);
        if (!ref.find()) throw new IOException("no inode ref named " + name + " in dump-tree");
        return Long.parseLong(ref.group(1));
    }

    /** The disk bytenr of the extent at file offset 0 of the file named {@code name} in the top-level tree. */
    public static long firstExtentOf(Path image, String name) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "5", image.toString()));
        Matcher ext = Pattern.compile("key \\(" + inodeOf(dump, name) + " EXTENT_DATA 0\\)[^\\n]*\\n[^\\n]*\\n"
                + "\\s*extent data disk byte (\\d+)").matcher(dump);
        if (!ext.find()) throw new IOException("no extent for " + name + " in dump-tree");
        return Long.parseLong(ext.group(1));
    }
}
