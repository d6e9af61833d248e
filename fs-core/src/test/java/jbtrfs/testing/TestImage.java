package jbtrfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Btrfs image file made by mkfs.btrfs and, as root, written by the kernel through a loop mount; read back with
 * btrfs-progs' dump-tree. Test support for checking our codecs against what the real tools write; skip with
 * {@link Images#requireMkfs} and {@link Images#requireKernelBtrfs}.
 */
public final class TestImage implements AutoCloseable {
    private static final Pattern LEAF = Pattern.compile("^leaf (\\d+) items \\d+");
    private static final Pattern ITEM = Pattern.compile(
            "^\\s+item \\d+ key \\((\\S+) (\\S+) (\\S+)\\) itemoff (\\d+) itemsize (\\d+)");
    private static final Pattern CHUNK = Pattern.compile("^\\s*length (\\d+) owner");
    private static final Pattern STRIPE0 = Pattern.compile("^\\s*stripe 0 devid \\d+ offset (\\d+)");
    private static final Pattern DATA_BACKREF = Pattern.compile(
            "extent data backref root (\\S+) objectid (\\d+) offset (\\d+) count (\\d+)$");

    private final Path image;
    private final Path mountPoint;
    private boolean mounted;
    private TreeMap<Long, long[]> chunks;

    /** One leaf item as dump-tree prints it: key fields as printed, the leaf's logical address, and its body lines. */
    public record Item(long leaf, String objectid, String type, String offset, int itemoff, int itemsize,
            List<String> body) {
        /** The key offset as an unsigned number. */
        public long offsetValue() { return Long.parseUnsignedLong(offset); }

        public String bodyText() { return String.join("\n", body); }
    }

    /**
     * An extent data back reference as dump-tree prints it (inline in an extent item, or keyed); {@code offset} is
     * unsigned (a clone to a lower file offset makes it "negative").
     */
    public record DataBackref(long bytenr, String root, long objectid, long offset, int count) {
    }

    private TestImage(Path image) {
        this.image = image;
        this.mountPoint = image.resolveSibling(image.getFileName() + ".mnt");
    }

    /** Makes a sparse 512 MiB image at {@code image} with {@code mkfs.btrfs -q -f ARGS}. */
    public static TestImage mkfs(Path image, String... mkfsArgs) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(512L << 20);
        }
        List<String> cmd = new ArrayList<>(List.of("mkfs.btrfs", "-q", "-f"));
        cmd.addAll(List.of(mkfsArgs));
        cmd.add(image.toString());
        run(cmd);
        return new TestImage(image);
    }

    /** An image made elsewhere (e.g. by {@link Images#kernelWritten}), to read its trees or mount it. */
    public static TestImage existing(Path image) {
        return new TestImage(image);
    }

    public Path path() { return image; }

    /** Loop-mounts the image with {@code options} (e.g. "compress-force=zstd"); returns the mount point. */
    public Path mount(String options) throws IOException {
        Files.createDirectories(mountPoint);
        run(List.of("mount", "-t", "btrfs", "-o", "loop" + (options.isEmpty() ? "" : "," + options),
                image.toString(), mountPoint.toString()));
        mounted = true;
        return mountPoint;
    }

    /** Unmounts (the loop device is released with it); safe to call when not mounted. */
    public void umount() throws IOException {
        if (mounted) {
            run(List.of("umount", mountPoint.toString()));
            mounted = false;
        }
    }

    @Override
    public void close() throws IOException {
        umount();
    }

    /** Inode number of a file under the mount point. */
    public long inode(Path file) throws IOException {
        return ((Number) Files.getAttribute(file, "unix:ino")).longValue();
    }

    /** The text of {@code btrfs inspect-internal dump-tree -t TREE}. */
    public String dumpTree(String tree) throws IOException {
        return run(List.of("btrfs", "inspect-internal", "dump-tree", "-t", tree, image.toString()));
    }

    /** Every leaf item of a tree, parsed from dump-tree. */
    public List<Item> items(String tree) throws IOException {
        List<Item> items = new ArrayList<>();
        long leaf = -1;
        Item current = null;
        for (String line : dumpTree(tree).split("\n")) {
            Matcher m;
            if ((m = LEAF.matcher(line)).find()) {
                leaf = Long.parseLong(m.group(1));
                current = null;
            } else if ((m = ITEM.matcher(line)).find()) {
                current = new Item(leaf, m.group(1), m.group(2), m.group(3), Integer.parseInt(m.group(4)),
                        Integer.parseInt(m.group(5)), new ArrayList<>());
                items.add(current);
            } else if (current != null && line.startsWith("\t\t")) {
                current.body().add(line.substring(2));
            } else if (!line.startsWith("\t")) {
                current = null;
            }
        }
        return items;
    }

    /** Every extent data back reference of the extent tree, in dump-tree's order. */
    public List<DataBackref> dataBackrefs() throws IOException {
        List<DataBackref> out = new ArrayList<>();
        for (Item item : items("extent")) {
            for (String line : item.body()) {
                Matcher m = DATA_BACKREF.matcher(line);
                if (!m.find()) continue;
                out.add(new DataBackref(Long.parseLong(item.objectid()), m.group(1), Long.parseLong(m.group(2)),
                        Long.parseUnsignedLong(m.group(3)), Integer.parseInt(m.group(4))));
            }
        }
        return out;
    }

    /** Reads {@code length} bytes at a logical address (first stripe of its chunk; single device). */
    public byte[] readLogical(long logical, int length) throws IOException {
        if (chunks == null) {
            chunks = loadChunks();
        }
        Map.Entry<Long, long[]> e = chunks.floorEntry(logical);
        if (e == null || logical + length > e.getKey() + e.getValue()[0]) {
            throw new IOException("logical " + logical + "+" + length + " is not inside one chunk");
        }
        long physical = e.getValue()[1] + (logical - e.getKey());
        byte[] out = new byte[length];
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            f.seek(physical);
            f.readFully(out);
        }
        return out;
    }

    /** The data of an item, read from its leaf in the image. */
    public byte[] itemData(Item item, int nodesize) throws IOException {
        byte[] leaf = readLogical(item.leaf(), nodesize);
        int start = 101 + item.itemoff(); // data offsets count from the end of the 101-byte header
        byte[] out = new byte[item.itemsize()];
        System.arraycopy(leaf, start, out, 0, out.length);
        return out;
    }

    /** A numeric field of dump-super (e.g. "nodesize"). */
    public long superField(String name) throws IOException {
        String out = run(List.of("btrfs", "inspect-internal", "dump-super", image.toString()));
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\s+(\\d+)").matcher(out);
        if (!m.find()) {
            throw new IOException("dump-super has no " + name);
        }
        return Long.parseLong(m.group(1));
    }

    private TreeMap<Long, long[]> loadChunks() throws IOException {
        TreeMap<Long, long[]> map = new TreeMap<>();
        Long start = null;
        long length = 0;
        for (Item item : items("chunk")) {
            if (!item.type().equals("CHUNK_ITEM")) {
                continue;
            }
            start = item.offsetValue();
            for (String line : item.body()) {
                Matcher m;
                if ((m = CHUNK.matcher(line)).find()) {
                    length = Long.parseLong(m.group(1));
                } else if ((m = STRIPE0.matcher(line)).find()) {
                    map.put(start, new long[] {length, Long.parseLong(m.group(1))});
                }
            }
        }
        if (map.isEmpty()) {
            throw new IOException("no chunks in the chunk tree dump");
        }
        return map;
    }

    private static String run(List<String> cmd) throws IOException {
        return Shell.stdout(cmd);
    }
}
