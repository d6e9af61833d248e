package jbtrfs.device;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * A byte array of any length held as fixed pages, a page allocated only when something other than zeros is
 * written to it: a 1.2 GiB filesystem image that is mostly unused costs what it holds. Absent pages read as
 * zeros. Not thread-safe (its owner locks).
 */
public final class SparseBytes {
    /** Page size: large enough that the map stays small, small enough that scattered metadata stays cheap. */
    public static final int PAGE = 64 << 10;
    private static final byte[] ZEROS = new byte[PAGE];

    private final long length;
    /** Present pages by index; sorted so that {@link #writeTo} writes the file front to back. */
    private final TreeMap<Long, byte[]> pages = new TreeMap<>();

    /** {@code length} zero bytes. */
    public SparseBytes(long length) {
        if (length < 0) throw new IllegalArgumentException("negative length " + length);
        this.length = length;
    }

    /** A copy of {@code image}, storing only its non-zero pages. */
    public static SparseBytes of(byte[] image) {
        SparseBytes s = new SparseBytes(image.length);
        s.write(0, image, 0, image.length);
        return s;
    }

    /** The content of {@code file}, read page by page, storing only its non-zero pages. */
    public static SparseBytes readFrom(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            SparseBytes s = new SparseBytes(ch.size());
            ByteBuffer page = ByteBuffer.allocate(PAGE);
            for (long at = 0; at < s.length; at += PAGE) {
                page.clear().limit((int) Math.min(PAGE, s.length - at));
                while (page.hasRemaining()) {
                    if (ch.read(page, at + page.position()) < 0) throw new IOException(file + " shrank while read");
                }
                s.write(at, page.array(), 0, page.limit());
            }
            return s;
        }
    }

    public long length() { return length; }

    /** Bytes held in pages (what this costs, about). */
    public long allocatedBytes() { return (long) pages.size() * PAGE; }

    /** Copies {@code len} bytes at {@code offset} into {@code dst[off..]}. */
    public void read(long offset, byte[] dst, int off, int len) {
        check(offset, len);
        forEachPage(offset, len, (page, inPage, done, n) -> {
            if (page == null) Arrays.fill(dst, off + done, off + done + n, (byte) 0);
            else System.arraycopy(page, inPage, dst, off + done, n);
        });
    }

    /** Copies {@code len} bytes at {@code offset} into {@code dst} from its position on; the position stays. */
    public void read(long offset, ByteBuffer dst, int len) {
        check(offset, len);
        int base = dst.position();
        forEachPage(offset, len, (page, inPage, done, n) -> dst.put(base + done, page == null ? ZEROS : page,
                page == null ? 0 : inPage, n));
    }

    /** Stores {@code src[off..off+len)} at {@code offset}; zeros written to absent pages allocate nothing. */
    public void write(long offset, byte[] src, int off, int len) {
        check(offset, len);
        forEachPage(offset, len, (page, inPage, done, n) -> {
            if (page == null) {
                if (Arrays.equals(src, off + done, off + done + n, ZEROS, 0, n)) return;
                page = new byte[PAGE];
                pages.put((offset + done) / PAGE, page);
            }
            System.arraycopy(src, off + done, page, inPage, n);
        });
    }

    /** An independent copy. */
    public SparseBytes copy() {
        SparseBytes c = new SparseBytes(length);
        pages.forEach((i, p) -> c.pages.put(i, p.clone()));
        return c;
    }

    /** The whole content as one array (lengths up to 2 GiB). */
    public byte[] toArray() {
        if (length > Integer.MAX_VALUE - 8) throw new IllegalStateException(length + " bytes do not fit an array");
        byte[] out = new byte[(int) length];
        pages.forEach((i, p) -> {
            long at = i * PAGE;
            System.arraycopy(p, 0, out, (int) at, (int) Math.min(PAGE, length - at));
        });
        return out;
    }

    /**
     * Writes the content to {@code file} (replacing it) as a sparse file: only pages holding something are
     * written, the rest of the length is left a hole.
     */
    public void writeTo(Path file) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(0);
            FileChannel ch = raf.getChannel();
            for (Map.Entry<Long, byte[]> e : pages.entrySet()) {
                long at = e.getKey() * PAGE;
                byte[] p = e.getValue();
                int n = (int) Math.min(PAGE, length - at);
                if (Arrays.equals(p, 0, n, ZEROS, 0, n)) continue; // zeroed again since: a hole will do
                ByteBuffer b = ByteBuffer.wrap(p, 0, n);
                while (b.hasRemaining()) ch.write(b, at + b.position());
            }
            raf.setLength(length); // ftruncate: the tail past the last page written stays a hole
        }
    }

    /** One piece of a range inside one page: the page (null if absent), where in it, bytes done so far, length. */
    private interface PageStep {
        void apply(byte[] page, int inPage, int done, int n);
    }

    private void forEachPage(long offset, int len, PageStep step) {
        int done = 0;
        while (done < len) {
            long at = offset + done;
            int inPage = (int) (at % PAGE);
            int n = Math.min(len - done, PAGE - inPage);
            step.apply(pages.get(at / PAGE), inPage, done, n);
            done += n;
        }
    }

    private void check(long offset, int len) {
        if (offset < 0 || len < 0 || offset + len > length) {
            throw new IndexOutOfBoundsException("bytes " + offset + "+" + len + " outside " + length);
        }
    }
}
