package jbtrfs.spacecache;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map.Entry;
import java.util.TreeMap;
import java.util.zip.CRC32C;

import jbtrfs.format.FreeSpaceEntry;

/**
 * The pages of a v1 space cache file (≈ the kernel's btrfs_io_ctl). Page 0 starts with one crc32c per page, then
 * the generation (u64); entries follow, never crossing a page; then one page per bitmap. Each page's crc covers
 * the page, page 0's from the end of the crc array. A bitmap page has one bit per sector (little-endian bit order)
 * for the 128 MiB window starting at its entry's offset.
 */
public final class SpaceCachePages {
    /** The kernel's PAGE_SIZE on the machines whose caches we read and write (x86-64, arm64 with 4 KiB pages). */
    public static final int PAGE = 4096;
    /** Groups under 100 MiB get no cache (cache_save_setup). */
    public static final long MIN_GROUP = 100L << 20;

    private SpaceCachePages() {
    }

    /** A serialised cache: the file's bytes and the header's counts. */
    public record Encoded(byte[] pages, int entries, int bitmaps) {
    }

    /** What a cache file will hold, before its pages are written: the header's counts come from here. */
    public static final class Layout {
        private final List<FreeSpaceEntry> entries;
        private final List<long[]> bitmaps;
        private final int numPages;

        private Layout(List<FreeSpaceEntry> entries, List<long[]> bitmaps, int numPages) {
            this.entries = entries;
            this.bitmaps = bitmaps;
            this.numPages = numPages;
        }

        public int entries() { return entries.size(); }

        public int bitmaps() { return bitmaps.size(); }

        /** Whether {@code o} holds the same entries and bitmaps (then its pages would be the same). */
        public boolean sameAs(Layout o) {
            if (o == null || numPages != o.numPages || !entries.equals(o.entries) || bitmaps.size() != o.bitmaps.size()) {
                return false;
            }
            for (int i = 0; i < bitmaps.size(); i++) {
                if (!Arrays.equals(bitmaps.get(i), o.bitmaps.get(i))) return false;
            }
            return true;
        }

        /** The file's pages with their crcs and {@code generation}. */
        public Encoded encode(long generation) {
            return new Encoded(write(entries, bitmaps, numPages, generation), entries.size(), bitmaps.size());
        }
    }

    /** Why a cache cannot be trusted. */
    public static final class InvalidCacheException extends Exception {
        public InvalidCacheException(String why) {
            super(why);
        }
    }

    /** The size of the cache file of a block group of {@code length} bytes (≈ cache_save_setup). */
    public static long fileSize(long length, int sectorsize) {
        long units = Math.max(1, length / (256L << 20));
        return units * 16 * sectorsize;
    }

    /** Bytes one bitmap page covers. */
    public static long bitmapBytes(int sectorsize) {
        return PAGE * 8L * sectorsize;
    }

    /**
     * Serialises the free ranges ({start, length}, ordered, not adjacent) of the group at {@code start} into
     * {@code numPages} pages: extent entries while they fit, else the 128 MiB windows holding the most extents as
     * bitmaps. Null when even that does not fit.
     */
    public static Encoded encode(List<long[]> free, long start, long length, int sectorsize, int numPages,
                                 long generation) {
        Layout l = layout(free, start, length, sectorsize, numPages);
        return l == null ? null : l.encode(generation);
    }

    /** The entries and bitmaps {@link #encode} would write, without writing the pages; null when they do not fit. */
    public static Layout layout(List<long[]> free, long start, long length, int sectorsize, int numPages) {
        if (headerBytes(numPages) > PAGE) return null;
        long window = bitmapBytes(sectorsize);
        int windows = (int) ((length + window - 1) / window);
        boolean[] bitmap = new boolean[windows];
        while (true) {
            List<FreeSpaceEntry> entries = new ArrayList<>();
            List<long[]> bitmaps = new ArrayList<>();
            int[] extentsPerWindow = new int[windows];
            split(free, start, window, bitmap, sectorsize, entries, bitmaps, extentsPerWindow);
            if (pagesFor(entries.size(), numPages) + bitmaps.size() <= numPages) {
                return new Layout(entries, bitmaps, numPages);
            }
            int worst = -1;
            for (int w = 0; w < windows; w++) {
                if (!bitmap[w] && extentsPerWindow[w] > 0 && (worst < 0 || extentsPerWindow[w] > extentsPerWindow[worst])) {
                    worst = w;
                }
            }
            if (worst < 0) return null;
            bitmap[worst] = true;
        }
    }

    /**
     * Cuts the free ranges into extent entries (outside bitmap windows) and bitmap pages (inside), bitmap entries
     * ordered among the extents by offset as the kernel's rbtree walk writes them.
     */
    private static void split(List<long[]> free, long start, long window, boolean[] bitmap, int sectorsize,
                              List<FreeSpaceEntry> entries, List<long[]> bitmapPages, int[] extentsPerWindow) {
        TreeMap<Long, FreeSpaceEntry> ordered = new TreeMap<>();
        TreeMap<Long, long[]> bits = new TreeMap<>();
        long[] bitmapFree = new long[bitmap.length];
        for (long[] r : free) {
            long s = r[0];
            long e = r[0] + r[1];
            long extentStart = -1;
            while (s < e) {
                int w = (int) ((s - start) / window);
                long wEnd = Math.min(e, start + (w + 1) * window);
                if (bitmap[w]) {
                    if (extentStart >= 0) {
                        ordered.put(extentStart, new FreeSpaceEntry(extentStart, s - extentStart,
                                FreeSpaceEntry.TYPE_EXTENT));
                        extentStart = -1;
                    }
                    long wStart = start + w * window;
                    long[] page = bits.computeIfAbsent(wStart, k -> new long[PAGE / 8]);
                    for (long p = s; p < wEnd; p += sectorsize) {
                        int bit = (int) ((p - wStart) / sectorsize);
                        page[bit >>> 6] |= 1L << (bit & 63);
                    }
                    bitmapFree[w] += wEnd - s;
                } else {
                    if (extentStart < 0) {
                        extentStart = s;
                        extentsPerWindow[w]++;
                    }
                }
                s = wEnd;
            }
            if (extentStart >= 0) ordered.put(extentStart, new FreeSpaceEntry(extentStart, e - extentStart,
                    FreeSpaceEntry.TYPE_EXTENT));
        }
        // an extent and a bitmap may share an offset: the extent comes first (the kernel's tree_insert_offset)
        List<FreeSpaceEntry> all = new ArrayList<>();
        for (Entry<Long, long[]> b : bits.entrySet()) {
            int w = (int) ((b.getKey() - start) / window);
            all.add(new FreeSpaceEntry(b.getKey(), bitmapFree[w], FreeSpaceEntry.TYPE_BITMAP));
        }
        all.addAll(ordered.values());
        all.sort((a, b) -> a.offset() != b.offset() ? Long.compareUnsigned(a.offset(), b.offset())
                : Integer.compare(a.type(), b.type()));
        entries.addAll(all);
        for (FreeSpaceEntry e : all) if (e.isBitmap()) bitmapPages.add(bits.get(e.offset()));
    }

    private static int headerBytes(int numPages) {
        return 4 * numPages + 8;
    }

    private static int firstPageEntries(int numPages) {
        return (PAGE - headerBytes(numPages)) / FreeSpaceEntry.SIZE;
    }

    /** Pages the entries take, page 0 included even when there are none. */
    private static int pagesFor(int entries, int numPages) {
        int first = firstPageEntries(numPages);
        if (entries <= first) return 1;
        int per = PAGE / FreeSpaceEntry.SIZE;
        return 1 + (entries - first + per - 1) / per;
    }

    private static byte[] write(List<FreeSpaceEntry> entries, List<long[]> bitmaps, int numPages, long generation) {
        ByteBuffer b = ByteBuffer.allocate(numPages * PAGE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(4 * numPages, generation);
        int page = 0;
        int at = headerBytes(numPages);
        int room = PAGE - at;
        boolean pageUsed = true; // page 0 holds the generation
        for (FreeSpaceEntry e : entries) {
            e.write(b, page * PAGE + at);
            at += FreeSpaceEntry.SIZE;
            room -= FreeSpaceEntry.SIZE;
            pageUsed = true;
            if (room < FreeSpaceEntry.SIZE) {
                page++;
                at = 0;
                room = PAGE;
                pageUsed = false;
            }
        }
        if (pageUsed) page++;
        for (long[] bits : bitmaps) {
            for (int i = 0; i < bits.length; i++) b.putLong(page * PAGE + i * 8, bits[i]);
            page++;
        }
        for (int p = 0; p < numPages; p++) b.putInt(4 * p, crc(b, p, numPages));
        return b.array();
    }

    private static int crc(ByteBuffer b, int page, int numPages) {
        int from = page == 0 ? 4 * numPages : 0;
        CRC32C c = new CRC32C();
        c.update(b.array(), page * PAGE + from, PAGE - from);
        return (int) c.getValue();
    }

    /**
     * Reads the free ranges ({start, length}, merged, ordered) a cache file holds, checking each page it reads (crc),
     * the generation, and that every entry lies in the group and none overlaps another.
     */
    public static List<long[]> decode(byte[] file, long numEntries, long numBitmaps, long generation, long start,
                                      long length, int sectorsize) throws InvalidCacheException {
        if (file.length == 0 || file.length % PAGE != 0) {
            throw new InvalidCacheException("cache file size " + file.length + " is not whole pages");
        }
        int numPages = file.length / PAGE;
        if (headerBytes(numPages) > PAGE) throw new InvalidCacheException("cache file of " + numPages + " pages");
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        checkCrc(b, 0, numPages);
        long gen = b.getLong(4 * numPages);
        if (gen != generation) {
            throw new InvalidCacheException("page generation " + gen + " does not match the header's " + generation);
        }
        long window = bitmapBytes(sectorsize);
        TreeMap<Long, Long> ranges = new TreeMap<>();
        List<FreeSpaceEntry> bitmapEntries = new ArrayList<>();
        int page = 0;
        int at = headerBytes(numPages);
        int room = PAGE - at;
        boolean mapped = true;
        for (long i = 0; i < numEntries; i++) {
            if (!mapped) {
                if (page >= numPages) throw new InvalidCacheException(numEntries + " entries overrun the file");
                checkCrc(b, page, numPages);
                mapped = true;
            }
            FreeSpaceEntry e = FreeSpaceEntry.read(b, page * PAGE + at);
            if (e.bytes() == 0) throw new InvalidCacheException("entry " + i + " has no bytes");
            if (e.isBitmap()) {
                if ((e.offset() - start) % window != 0 || e.offset() < start || e.offset() >= start + length) {
                    throw new InvalidCacheException("bitmap at " + e.offset() + " is not a window of the group");
                }
                bitmapEntries.add(e);
            } else if (e.type() == FreeSpaceEntry.TYPE_EXTENT) {
                add(ranges, e.offset(), e.bytes(), start, length);
            } else {
                throw new InvalidCacheException("entry " + i + " has type " + e.type());
            }
            at += FreeSpaceEntry.SIZE;
            room -= FreeSpaceEntry.SIZE;
            if (room < FreeSpaceEntry.SIZE) {
                page++;
                at = 0;
                room = PAGE;
                mapped = false;
            }
        }
        if (bitmapEntries.size() != numBitmaps) {
            throw new InvalidCacheException(bitmapEntries.size() + " bitmap entries, the header says " + numBitmaps);
        }
        if (mapped) page++;
        for (FreeSpaceEntry e : bitmapEntries) {
            if (page >= numPages) throw new InvalidCacheException("bitmaps overrun the file");
            checkCrc(b, page, numPages);
            long set = 0;
            long runStart = -1;
            for (int bit = 0; bit < PAGE * 8; bit++) {
                boolean free = (file[page * PAGE + (bit >>> 3)] >>> (bit & 7) & 1) != 0;
                long at2 = e.offset() + (long) bit * sectorsize;
                if (free) {
                    set++;
                    if (runStart < 0) runStart = at2;
                } else if (runStart >= 0) {
                    add(ranges, runStart, at2 - runStart, start, length);
                    runStart = -1;
                }
            }
            if (runStart >= 0) add(ranges, runStart, e.offset() + window - runStart, start, length);
            if (set * sectorsize != e.bytes()) {
                throw new InvalidCacheException("bitmap at " + e.offset() + " marks " + set * sectorsize
                        + " bytes free, its entry says " + e.bytes());
            }
            page++;
        }
        List<long[]> out = new ArrayList<>(ranges.size());
        for (Entry<Long, Long> r : ranges.entrySet()) {
            out.add(new long[] {r.getKey(), r.getValue() - r.getKey()});
        }
        return out;
    }

    private static void checkCrc(ByteBuffer b, int page, int numPages) throws InvalidCacheException {
        int stored = b.getInt(4 * page);
        if (stored != crc(b, page, numPages)) throw new InvalidCacheException("crc mismatch on page " + page);
    }

    /** Adds [s, s+len) to merged {@code ranges}; an overlap or a range outside the group is invalid. */
    private static void add(TreeMap<Long, Long> ranges, long s, long len, long start, long length)
            throws InvalidCacheException {
        long e = s + len;
        if (s < start || e > start + length || e <= s) {
            throw new InvalidCacheException("free range " + s + "+" + len + " lies outside the group");
        }
        Entry<Long, Long> before = ranges.floorEntry(s);
        Entry<Long, Long> after = ranges.ceilingEntry(s);
        if ((before != null && before.getValue() > s) || (after != null && after.getKey() < e)) {
            throw new InvalidCacheException("free range " + s + "+" + len + " overlaps another entry");
        }
        if (before != null && before.getValue() == s) {
            s = before.getKey();
            ranges.remove(before.getKey());
        }
        Long next = ranges.remove(e);
        ranges.put(s, next != null ? next : e);
    }
}
