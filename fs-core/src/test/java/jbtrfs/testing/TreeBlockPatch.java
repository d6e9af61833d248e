package jbtrfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * Changes one item of a tree block in an image and re-seals the block's checksum on every copy, so that the
 * parsers and the commit meet the damage, not the checksum (as btrfs-progs' corrupt-block does with its -f and
 * --value). Where things lie comes from dump-tree and btrfs-map-logical, never from our own reader.
 */
public final class TreeBlockPatch {
    /** struct btrfs_header: the checksum's 32 bytes, then what it covers; items follow at 101. */
    private static final int HEADER_SIZE = 101;
    private static final int CSUM_SIZE = 32;
    private static final Pattern BLOCK = Pattern.compile("^(?:leaf|node) (\\d+) ", Pattern.MULTILINE);

    private TreeBlockPatch() {
    }

    /**
     * Patches the data of the item with key ({@code objectid} {@code type} {@code offset}) in tree {@code tree} of a
     * crc32c image: {@code patch} gets the leaf and the item data's offset in it. Returns the leaf's logical address.
     */
    public static long patchItem(Path image, long tree, long objectid, String type, long offset, int nodesize,
                                 BiConsumer<ByteBuffer, Integer> patch) throws IOException, InterruptedException {
        String dump = Shell.run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", Long.toString(tree),
                image.toString()));
        Matcher item = Pattern.compile("item \\d+ key \\(" + objectid + " " + type + " " + offset
                + "\\) itemoff (\\d+) itemsize \\d+").matcher(dump);
        if (!item.find()) {
            throw new IOException("no item (" + objectid + " " + type + " " + offset + ") in tree " + tree);
        }
        long leaf = -1;
        Matcher block = BLOCK.matcher(dump);
        while (block.find() && block.start() < item.start()) leaf = Long.parseLong(block.group(1));
        if (leaf < 0) throw new IOException("no leaf above the item in dump-tree");
        int dataOffset = HEADER_SIZE + Integer.parseInt(item.group(1));
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            for (long physical : ImageDamage.physicalCopies(image, leaf)) {
                byte[] raw = new byte[nodesize];
                raf.seek(physical);
                raf.readFully(raw);
                ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
                patch.accept(b, dataOffset);
                CRC32C crc = new CRC32C();
                crc.update(raw, CSUM_SIZE, nodesize - CSUM_SIZE);
                b.putInt(0, (int) crc.getValue());
                raf.seek(physical);
                raf.write(raw);
            }
        }
        return leaf;
    }
}
