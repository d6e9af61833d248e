package jbtrfs.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import jbtrfs.testing.Images;
import jbtrfs.testing.TestImage;

/**
 * Decompresses extents the kernel wrote (loop mount with compress-force) and compares them with the files' known
 * content; then corrupts those real extents. Needs root and loop devices; skips with a printed reason otherwise.
 */
class KernelCompressedExtentsTest {
    static final Pattern REGULAR_DISK = Pattern.compile("extent data disk byte (\\d+) nr (\\d+)");
    static final Pattern REGULAR_RANGE = Pattern.compile("extent data offset (\\d+) nr (\\d+) ram (\\d+)");
    static final Pattern REGULAR_COMPRESSION = Pattern.compile("extent compression (\\d+)");
    static final Pattern INLINE = Pattern.compile("inline extent data size (\\d+) ram_bytes (\\d+) compression (\\d+)");

    @TempDir
    static Path dir;

    /** A compressed extent found in an image, with what it must decompress to. */
    record Extent(String file, CompressionType type, boolean inline, byte[] onDisk, int ramBytes, int offset,
            int numBytes, byte[] expected, int sectorSize) {
        @Override
        public String toString() {
            return type + " " + (inline ? "inline" : "regular") + " extent of " + file + " (" + onDisk.length
                    + " -> " + ramBytes + " bytes)";
        }
    }

    static final Map<CompressionType, List<Extent>> EXTENTS = new EnumMap<>(CompressionType.class);
    static final List<TestImage> IMAGES = new ArrayList<>();

    static Map<String, byte[]> files() {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("inline-text-100", text(100, 1));
        files.put("inline-text-3000", text(3000, 2));
        files.put("inline-random-100", random(100, 3));
        files.put("text-4096", text(4096, 4));
        files.put("text-5000", text(5000, 5));
        files.put("text-128k", text(128 * 1024, 6));
        files.put("text-1m", text(1 << 20, 7));
        files.put("mixed-77777", mixed(77777, 8));
        files.put("mixed-1000003", mixed(1_000_003, 9));
        files.put("random-128k", random(128 * 1024, 10));
        byte[] zerosThenText = new byte[300_000];
        System.arraycopy(text(100_000, 11), 0, zerosThenText, 200_000, 100_000);
        files.put("zeros-then-text-300000", zerosThenText);
        return files;
    }

    /** Compressible text: numbered lines of words chosen by a seeded generator. */
    static byte[] text(int n, long seed) {
        String[] words = {"btrfs", "extent", "chunk", "stripe", "inode", "subvolume", "snapshot", "checksum",
            "the", "a", "of", "tree", "leaf", "node", "key", "item", "compression", "sector"};
        Random r = new Random(seed);
        StringBuilder sb = new StringBuilder();
        for (int line = 0; sb.length() < n; line++) {
            sb.append(line).append(':');
            for (int w = 0, count = 3 + r.nextInt(9); w < count; w++) {
                sb.append(' ').append(words[r.nextInt(words.length)]);
            }
            sb.append('\n');
        }
        return Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), n);
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** 4 KiB blocks cycling text, random, zeros, text, so extents mix well and badly compressible sectors. */
    static byte[] mixed(int n, long seed) {
        byte[] t = text(n, seed);
        byte[] r = random(n, seed + 1000);
        byte[] out = new byte[n];
        for (int off = 0; off < n; off += 4096) {
            int len = Math.min(4096, n - off);
            switch ((off / 4096) % 4) {
                case 0, 3 -> System.arraycopy(t, off, out, off, len);
                case 1 -> System.arraycopy(r, off, out, off, len);
                default -> { } // zeros
            }
        }
        return out;
    }

    @BeforeAll
    static void writeImages() throws IOException {
        Images.requireKernelBtrfs();
        for (CompressionType type : new CompressionType[] {CompressionType.ZLIB, CompressionType.LZO,
                CompressionType.ZSTD}) {
            EXTENTS.put(type, writeImage(type, type.displayName(), new String[0]));
        }
    }

    @AfterAll
    static void unmountAll() throws IOException {
        for (TestImage image : IMAGES) {
            image.close();
        }
    }

    /** Writes the test files through the kernel with compress-force=OPTION and collects their compressed extents. */
    static List<Extent> writeImage(CompressionType type, String option, String[] mkfsArgs) throws IOException {
        TestImage image = TestImage.mkfs(dir.resolve(option.replace(':', '-') + ".img"), mkfsArgs);
        IMAGES.add(image);
        Map<Long, String> names = new HashMap<>();
        Map<String, byte[]> content = files();
        Path mnt = image.mount("compress-force=" + option);
        try {
            for (Map.Entry<String, byte[]> f : content.entrySet()) {
                Path p = mnt.resolve(f.getKey());
                write(p, 0, f.getValue(), true);
                names.put(image.inode(p), f.getKey());
            }
            // A compressed extent partly overwritten later: two file extents then share it at different offsets.
            byte[] overwritten = text(262_144, 12);
            Path p = mnt.resolve("overwritten");
            write(p, 0, overwritten, true);
            byte[] patch = random(5000, 13);
            write(p, 70_000, patch, false);
            System.arraycopy(patch, 0, overwritten, 70_000, patch.length);
            content.put("overwritten", overwritten);
            names.put(image.inode(p), "overwritten");
        } finally {
            image.umount();
        }
        int nodesize = (int) image.superField("nodesize");
        int sectorSize = (int) image.superField("sectorsize");
        List<Extent> extents = new ArrayList<>();
        for (TestImage.Item item : image.items("5")) {
            if (!item.type().equals("EXTENT_DATA")) {
                continue;
            }
            String name = names.get(Long.parseLong(item.objectid()));
            if (name == null) {
                continue;
            }
            byte[] file = content.get(name);
            long keyOffset = item.offsetValue();
            String body = item.bodyText();
            Matcher inline = INLINE.matcher(body);
            if (inline.find()) {
                int compression = Integer.parseInt(inline.group(3));
                if (compression == 0) {
                    continue;
                }
                assertEquals(type.code(), compression, "compression of " + name);
                byte[] data = image.itemData(item, nodesize);
                byte[] payload = Arrays.copyOfRange(data, 21, data.length);
                assertEquals(Integer.parseInt(inline.group(1)), payload.length, "inline payload size of " + name);
                int ram = Integer.parseInt(inline.group(2));
                extents.add(new Extent(name, type, true, payload, ram, 0, ram, slice(file, keyOffset, ram),
                        sectorSize));
                continue;
            }
            Matcher disk = REGULAR_DISK.matcher(body);
            Matcher range = REGULAR_RANGE.matcher(body);
            Matcher comp = REGULAR_COMPRESSION.matcher(body);
            if (!disk.find() || !range.find() || !comp.find()) {
                fail("cannot parse EXTENT_DATA of " + name + ":\n" + body);
            }
            int compression = Integer.parseInt(comp.group(1));
            long diskBytenr = Long.parseLong(disk.group(1));
            if (compression == 0 || diskBytenr == 0) {
                continue;
            }
            assertEquals(type.code(), compression, "compression of " + name);
            int diskNum = Integer.parseInt(disk.group(2));
            int offset = Integer.parseInt(range.group(1));
            int num = Integer.parseInt(range.group(2));
            int ram = Integer.parseInt(range.group(3));
            extents.add(new Extent(name, type, false, image.readLogical(diskBytenr, diskNum), ram, offset, num,
                    slice(file, keyOffset, num), sectorSize));
        }
        return extents;
    }

    static void write(Path p, long position, byte[] data, boolean create) throws IOException {
        try (FileChannel ch = FileChannel.open(p, create
                ? new StandardOpenOption[] {StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE}
                : new StandardOpenOption[] {StandardOpenOption.WRITE})) {
            ByteBuffer b = ByteBuffer.wrap(data);
            while (b.hasRemaining()) {
                ch.write(b, position + b.position());
            }
            ch.force(true); // each write reaches disk as its own extents
        }
    }

    /** {@code file[from, from+len)}, zeros past its end (the tail of the last sector). */
    static byte[] slice(byte[] file, long from, int len) {
        byte[] out = new byte[len];
        if (from < file.length) {
            System.arraycopy(file, (int) from, out, 0, (int) Math.min(len, file.length - from));
        }
        return out;
    }

    static byte[] decompress(Extent e, ByteBuffer src) throws CorruptCompressedDataException {
        byte[] dst = new byte[e.ramBytes()];
        if (e.inline()) {
            Decompressor.decompressInline(e.type(), src, dst, e.ramBytes(), e.sectorSize());
        } else {
            Decompressor.decompress(e.type(), src, dst, e.ramBytes(), e.sectorSize());
        }
        return dst;
    }

    static void assertDecompressesRight(Extent e, ByteBuffer src) throws CorruptCompressedDataException {
        byte[] out = decompress(e, src);
        assertArrayEquals(e.expected(), Arrays.copyOfRange(out, e.offset(), e.offset() + e.numBytes()), e.toString());
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZLIB", "LZO", "ZSTD"})
    void kernelExtents_decompressToFileContent(CompressionType type) throws Exception {
        List<Extent> extents = EXTENTS.get(type);
        long regular = extents.stream().filter(e -> !e.inline()).count();
        long inline = extents.stream().filter(Extent::inline).count();
        long shared = extents.stream().filter(e -> e.offset() != 0).count();
        System.out.printf("%s: %d regular, %d inline compressed extents, %d referenced at an offset%n",
                type, regular, inline, shared);
        assertTrue(regular >= 15, "too few regular compressed extents: " + regular);
        assertTrue(inline >= 2, "too few inline compressed extents: " + inline);
        assertTrue(shared >= 1, "no extent referenced at a non-zero offset");
        for (Extent e : extents) {
            assertDecompressesRight(e, ByteBuffer.wrap(e.onDisk()));
            ByteBuffer direct = ByteBuffer.allocateDirect(e.onDisk().length).put(e.onDisk()).flip();
            assertDecompressesRight(e, direct);
        }
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZLIB", "LZO", "ZSTD"})
    void kernelExtents_truncated_throw(CompressionType type) {
        int checked = 0;
        for (Extent e : EXTENTS.get(type)) {
            int end = streamEnd(e);
            // Cut inside the stream: the input ends before the stream does.
            for (int cut : new int[] {0, 1, 3, 7, end / 2, end - 1}) {
                if (cut < 0 || cut >= end) {
                    continue;
                }
                ByteBuffer src = ByteBuffer.wrap(e.onDisk(), 0, cut);
                try {
                    decompress(e, src);
                    fail(e + " truncated to " + cut + " of " + end + " stream bytes decompressed without error");
                } catch (CorruptCompressedDataException expected) {
                    checked++;
                }
            }
        }
        assertTrue(checked > 50, "checked only " + checked);
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZLIB", "LZO", "ZSTD"})
    @Timeout(120)
    void kernelExtents_flippedBytes_throwOrDecodeRight_neverCrash(CompressionType type) {
        Random random = new Random(type.code());
        int thrown = 0;
        int harmless = 0;
        int silent = 0;
        for (Extent e : EXTENTS.get(type)) {
            int end = Math.max(1, streamEnd(e));
            for (int i = 0; i < 40; i++) {
                byte[] corrupt = e.onDisk().clone();
                int at = random.nextInt(end);
                corrupt[at] ^= (byte) (1 + random.nextInt(255));
                byte[] out;
                try {
                    out = decompress(e, ByteBuffer.wrap(corrupt));
                } catch (CorruptCompressedDataException expected) {
                    thrown++;
                    continue;
                }
                if (Arrays.equals(e.expected(), Arrays.copyOfRange(out, e.offset(), e.offset() + e.numBytes()))) {
                    harmless++;
                } else {
                    silent++;
                    // zlib carries an Adler-32 over the output: a wrong result must never pass.
                    assertTrue(type != CompressionType.ZLIB, e + " with byte " + at + " flipped decoded to garbage");
                }
            }
        }
        // LZO and zstd (no frame checksum in kernel frames) cannot detect every flipped literal: the data
        // checksums of the on-disk bytes catch those, as in the kernel.
        System.out.printf("%s flips: %d threw, %d decoded right, %d decoded wrong without a format error%n",
                type, thrown, harmless, silent);
        assertTrue(thrown > 0);
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZLIB", "LZO", "ZSTD"})
    void kernelExtents_brokenFraming_throws(CompressionType type) {
        int checked = 0;
        for (Extent e : EXTENTS.get(type)) {
            for (byte[] corrupt : framingCorruptions(e)) {
                try {
                    decompress(e, ByteBuffer.wrap(corrupt));
                    fail(e + ": broken framing decompressed without error");
                } catch (CorruptCompressedDataException expected) {
                    checked++;
                }
            }
        }
        assertTrue(checked >= EXTENTS.get(type).size(), "checked only " + checked);
    }

    /** Damage to the container of each format, which must always be detected. */
    static List<byte[]> framingCorruptions(Extent e) {
        List<byte[]> out = new ArrayList<>();
        byte[] b = e.onDisk();
        ByteBuffer le = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        switch (e.type()) {
            case ZLIB -> {
                byte[] c = b.clone();
                c[1] ^= 0x01; // FCHECK no longer makes the header a multiple of 31
                out.add(c);
                c = b.clone();
                c[0] = (byte) ((c[0] & 0xF0) | 7); // compression method 7 is not deflate
                out.add(c);
                int end = streamEnd(e);
                c = b.clone();
                c[end - 1] ^= 0x40; // the Adler-32 trailer
                out.add(c);
            }
            case LZO -> {
                int total = le.getInt(0);
                byte[] c = b.clone();
                ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putInt(0, b.length + 1);
                out.add(c); // total longer than the extent
                c = b.clone();
                ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 5000);
                out.add(c); // first segment longer than lzo1x_worst_compress(4096)
                c = b.clone();
                ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putInt(4, total);
                out.add(c); // first segment runs past the total
                c = b.clone();
                int segEnd = 8 + le.getInt(4);
                c[segEnd - 3] = 0x12; // the first segment's end marker (11 00 00) no longer ends it
                out.add(c);
            }
            case ZSTD -> {
                byte[] c = b.clone();
                c[0] ^= 0x01; // magic
                out.add(c);
                c = b.clone();
                c[4] |= 0x08; // reserved descriptor bit
                out.add(c);
                c = b.clone();
                int descriptor = b[4] & 0xFF;
                if ((descriptor >>> 6) == 1 && (descriptor & 0x20) != 0) {
                    c[5] ^= 0x01; // Frame_Content_Size off by one: must not match the blocks
                    out.add(c);
                }
            }
            default -> throw new AssertionError(e.type());
        }
        return out;
    }

    /** Bytes of the compressed stream proper: the rest of a regular extent is padding to its sector. */
    static int streamEnd(Extent e) {
        byte[] b = e.onDisk();
        if (e.type() == CompressionType.LZO) {
            return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        }
        int end = b.length;
        while (end > 0 && b[end - 1] == 0) {
            end--;
        }
        return end;
    }
}
