package jbtrfs.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map.Entry;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jbtrfs.csum.ChecksumType;
import jbtrfs.device.SparseBytes;

/**
 * A valid image to mutate ({@link ImageMutator}): its bytes, and where its tree blocks and chunks lie as
 * btrfs-progs' dump-tree and dump-super tell (not our own reader, so a bug of ours cannot hide a block).
 */
public final class FuzzBase {
    private static final Pattern BLOCK = Pattern.compile("(?m)^(?:leaf|node) (\\d+) (?:items|level) ");
    private static final Pattern CHUNK = Pattern.compile(
            "key \\(FIRST_CHUNK_TREE CHUNK_ITEM (\\d+)\\)[^\\n]*\\n\\s*length (\\d+) owner \\d+ stripe_len \\d+ type (\\S+)");
    private static final Pattern STRIPE = Pattern.compile("^\\s*stripe \\d+ devid \\d+ offset (\\d+)");

    private final String variant;
    private final SparseBytes bytes;
    private final int nodesize;
    private final ChecksumType csumType;
    private final List<Long> treeBlocks;
    /** Chunks by logical start: {length, physical offset of each stripe...}. */
    private final TreeMap<Long, long[]> chunks;
    private final long dataChunk;

    private FuzzBase(String variant, SparseBytes bytes, int nodesize, ChecksumType csumType, List<Long> treeBlocks,
                     TreeMap<Long, long[]> chunks, long dataChunk) {
        this.variant = variant;
        this.bytes = bytes;
        this.nodesize = nodesize;
        this.csumType = csumType;
        this.treeBlocks = treeBlocks;
        this.chunks = chunks;
        this.dataChunk = dataChunk;
    }

    /** Reads {@code image} (a valid single-device image) and maps its tree blocks with btrfs-progs. */
    public static FuzzBase of(String variant, Path image) throws IOException {
        String sup = Shell.stdout(List.of("btrfs", "inspect-internal", "dump-super", image.toString()));
        int nodesize = Integer.parseInt(field(sup, "nodesize"));
        ChecksumType csum = ChecksumType.fromCode(Integer.parseInt(field(sup, "csum_type")));
        String dump = Shell.stdout(List.of("btrfs", "inspect-internal", "dump-tree", image.toString()));
        Set<Long> blocks = new LinkedHashSet<>();
        Matcher m = BLOCK.matcher(dump);
        while (m.find()) blocks.add(Long.parseLong(m.group(1)));
        String chunkDump = Shell.stdout(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "chunk",
                image.toString()));
        TreeMap<Long, long[]> chunks = new TreeMap<>();
        Matcher c = CHUNK.matcher(chunkDump);
        long dataChunk = -1;
        while (c.find()) {
            if (dataChunk < 0 && c.group(3).startsWith("DATA") && !c.group(3).contains("METADATA")) {
                dataChunk = Long.parseLong(c.group(1));
            }
            List<Long> stripes = new ArrayList<>();
            String rest = chunkDump.substring(c.end());
            for (String line : rest.split("\n")) {
                if (line.contains(" key (")) break;
                Matcher s = STRIPE.matcher(line);
                if (s.find()) stripes.add(Long.parseLong(s.group(1)));
            }
            long[] v = new long[1 + stripes.size()];
            v[0] = Long.parseLong(c.group(2));
            for (int i = 0; i < stripes.size(); i++) v[1 + i] = stripes.get(i);
            chunks.put(Long.parseLong(c.group(1)), v);
        }
        if (blocks.isEmpty() || chunks.isEmpty()) throw new IOException("dump-tree found no blocks in " + image);
        return new FuzzBase(variant, SparseBytes.readFrom(image), nodesize, csum, List.copyOf(blocks), chunks,
                dataChunk);
    }

    private static String field(String dumpSuper, String name) throws IOException {
        Matcher m = Pattern.compile("(?m)^" + name + "\\s+(\\d+)").matcher(dumpSuper);
        if (!m.find()) throw new IOException("dump-super has no " + name);
        return m.group(1);
    }

    public String variant() { return variant; }

    /** A fresh copy of the image's bytes. */
    public SparseBytes copy() { return bytes.copy(); }

    /** Writes the image's bytes to {@code file} (sparse); returns it. */
    public Path copyTo(Path file) throws IOException {
        bytes.writeTo(file);
        return file;
    }

    public int nodesize() { return nodesize; }

    public ChecksumType csumType() { return csumType; }

    /** Tree blocks and chunks in a few words, to tell that two runs mutate the same layout. */
    public String layout() {
        return treeBlocks.size() + " tree blocks, " + chunks.size() + " chunks, layout hash "
                + Integer.toHexString(treeBlocks.hashCode() * 31 + chunks.keySet().hashCode());
    }

    /** Logical addresses of every tree block of every tree. */
    public List<Long> treeBlocks() { return treeBlocks; }

    /** The logical start of the first chunk dump-tree calls DATA (not mixed), or -1. */
    public long dataChunk() { return dataChunk; }

    /** Logical starts of the chunks with two stripes (DUP on one device), in address order. */
    public List<Long> dupChunks() {
        return chunks.entrySet().stream().filter(e -> e.getValue().length == 3).map(Entry::getKey)
                .toList();
    }

    /** Physical offsets of every copy of the {@code length} bytes at {@code logical} (one per DUP stripe). */
    public long[] physical(long logical, int length) throws IOException {
        var e = chunks.floorEntry(logical);
        if (e == null || logical + length > e.getKey() + e.getValue()[0]) {
            throw new IOException("logical " + logical + " is in no chunk of " + variant);
        }
        long[] out = new long[e.getValue().length - 1];
        for (int i = 0; i < out.length; i++) out[i] = e.getValue()[1 + i] + (logical - e.getKey());
        return out;
    }
}
