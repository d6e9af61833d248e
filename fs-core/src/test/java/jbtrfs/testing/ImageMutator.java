package jbtrfs.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import jbtrfs.device.SparseBytes;

/**
 * Damages a copy of a valid image field by field, not byte by byte: a field of the superblock or its
 * sys_chunk_array, of a tree block header, of a node's key pointer, of a leaf's item header or of an item body
 * (lengths, counts, types, name_len, inline ref types, extent data fields, chunk fields...), given a value a
 * fuzzer would pick (0, 1, all ones, off by one, a flipped bit, a size, random), then seals the checksums again
 * (tree block: bytes 32..nodesize; superblock: bytes 32..4096) so that the parsers and the tree checker, not the
 * checksum, meet the damage. Every copy of a block (DUP) and of the superblock gets the same change. The same
 * (base image, seed) always gives the same damage.
 */
public final class ImageMutator {
    private static final int HEADER = 101;
    private static final int ITEM = 25;
    private static final int KEY_PTR = 33;
    private static final int SUPER = 4096;
    private static final long[] SUPER_COPIES = {64L << 10, 64L << 20};
    private static final int SYS_ARRAY = 811;

    /** A field: name, offset in its structure, width in bytes (1, 2, 4 or 8). */
    private record Field(String name, int offset, int width) {
    }

    private static final List<Field> SUPER_FIELDS = fields("bytenr 48 8, flags 56 8, generation 72 8, root 80 8,"
            + " chunk_root 88 8, log_root 96 8, total_bytes 112 8, bytes_used 120 8, root_dir_objectid 128 8,"
            + " num_devices 136 8, sectorsize 144 4, nodesize 148 4, leafsize 152 4, stripesize 156 4,"
            + " sys_chunk_array_size 160 4, chunk_root_generation 164 8, compat_flags 172 8, compat_ro_flags 180 8,"
            + " incompat_flags 188 8, root_level 198 1, chunk_root_level 199 1, log_root_level 200 1,"
            + " dev_item.devid 201 8, dev_item.total_bytes 209 8, dev_item.bytes_used 217 8,"
            + " dev_item.sector_size 233 4, dev_item.type 237 8, fsid[0] 32 1, cache_generation 555 8,"
            + " uuid_tree_generation 563 8, metadata_uuid[0] 571 1");
    private static final List<Field> CHUNK_FIELDS = fields("length 0 8, owner 8 8, stripe_len 16 8, type 24 8,"
            + " io_align 32 4, io_width 36 4, sector_size 40 4, num_stripes 44 2, sub_stripes 46 2,"
            + " stripe.devid 48 8, stripe.offset 56 8");
    private static final List<Field> KEY_FIELDS = fields("objectid 0 8, type 8 1, offset 9 8");
    private static final List<Field> SYS_ARRAY_FIELDS = sysArrayFields();
    private static final List<Field> HEADER_FIELDS = fields("fsid[0] 32 1, bytenr 48 8, flags 56 8,"
            + " chunk_tree_uuid[0] 64 1, generation 80 8, owner 88 8, nritems 96 4, level 100 1");
    private static final List<Field> ITEM_FIELDS = fields("key.objectid 0 8, key.type 8 1, key.offset 9 8,"
            + " offset 17 4, size 21 4");
    private static final List<Field> KEY_PTR_FIELDS = fields("key.objectid 0 8, key.type 8 1, key.offset 9 8,"
            + " blockptr 17 8, generation 25 8");
    private static final String DIR = "location.objectid 0 8, location.type 8 1, location.offset 9 8,"
            + " transid 17 8, data_len 25 2, name_len 27 2, type 29 1, name[0] 30 1";
    private static final String EXTENT = "refs 0 8, generation 8 8, flags 16 8, inline.type 24 1,"
            + " inline.offset 25 8, inline.objectid 33 8, inline.offset2 41 8, inline.count 49 4,"
            + " tree_block_info.level 41 1, tree_block_info.inline.type 42 1, tree_block_info.inline.offset 43 8";
    /** Item body fields by key type (the kernel's ctree.h layouts). */
    private static final Map<Integer, List<Field>> BODY_FIELDS = Map.ofEntries(
            Map.entry(1, fields("generation 0 8, transid 8 8, size 16 8, nbytes 24 8, block_group 32 8, nlink 40 4,"
                    + " uid 44 4, gid 48 4, mode 52 4, rdev 56 8, flags 64 8, sequence 72 8, atime.nsec 120 4,"
                    + " mtime.sec 136 8, mtime.nsec 144 4")),
            Map.entry(12, fields("index 0 8, name_len 8 2, name[0] 10 1")),
            Map.entry(13, fields("parent 0 8, index 8 8, name_len 16 2, name[0] 18 1")),
            Map.entry(24, fields(DIR)),
            Map.entry(84, fields(DIR)),
            Map.entry(96, fields(DIR)),
            Map.entry(108, fields("generation 0 8, ram_bytes 8 8, compression 16 1, encryption 17 1,"
                    + " other_encoding 18 2, type 20 1, disk_bytenr 21 8, disk_num_bytes 29 8, offset 37 8,"
                    + " num_bytes 45 8")),
            Map.entry(128, fields("csum[0] 0 4")),
            Map.entry(132, fields("inode.size 16 8, inode.mode 52 4, generation 160 8, root_dirid 168 8,"
                    + " bytenr 176 8, byte_limit 184 8, bytes_used 192 8, last_snapshot 200 8, flags 208 8,"
                    + " refs 216 4, drop_progress.objectid 220 8, drop_progress.type 228 1, drop_level 237 1,"
                    + " level 238 1, generation_v2 239 8")),
            Map.entry(144, fields("dirid 0 8, sequence 8 8, name_len 16 2")),
            Map.entry(156, fields("dirid 0 8, sequence 8 8, name_len 16 2")),
            Map.entry(168, fields(EXTENT)),
            Map.entry(169, fields(EXTENT)),
            Map.entry(178, fields("root 0 8, objectid 8 8, offset 16 8, count 24 4")),
            Map.entry(184, fields("count 0 4")),
            Map.entry(192, fields("used 0 8, chunk_objectid 8 8, flags 16 8")),
            Map.entry(198, fields("extent_count 0 4, flags 4 4")),
            Map.entry(200, fields("bits[0] 0 1")),
            Map.entry(204, fields("chunk_tree 0 8, chunk_objectid 8 8, chunk_offset 16 8, length 24 8")),
            Map.entry(216, fields("devid 0 8, total_bytes 8 8, bytes_used 16 8, io_align 24 4, io_width 28 4,"
                    + " sector_size 32 4, type 36 8")),
            Map.entry(228, CHUNK_FIELDS));

    private final FuzzBase base;
    /** (leaf, slot) of every item of the base image whose body layout {@link #BODY_FIELDS} knows. */
    private final List<long[]> bodyItems = new ArrayList<>();

    public ImageMutator(FuzzBase base) throws IOException {
        this.base = base;
        SparseBytes image = base.copy();
        int nodesize = base.nodesize();
        for (long logical : base.treeBlocks()) {
            byte[] raw = new byte[nodesize];
            image.read(base.physical(logical, nodesize)[0], raw, 0, nodesize);
            ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            if (b.get(100) != 0) continue;
            for (int slot = 0; slot < b.getInt(96); slot++) {
                if (BODY_FIELDS.containsKey(Byte.toUnsignedInt(b.get(HEADER + slot * ITEM + 8)))) {
                    bodyItems.add(new long[] {logical, slot});
                }
            }
        }
    }

    /** Applies the damage of {@code seed} to {@code image} (a copy of the base); returns what was changed. */
    public String mutate(SparseBytes image, long seed) throws IOException {
        Random r = new Random(seed);
        int count = r.nextInt(10) < 8 ? 1 : 2 + r.nextInt(2);
        List<String> done = new ArrayList<>();
        for (int i = 0; i < count; i++) done.add(mutateOnce(image, r));
        return String.join("; ", done);
    }

    private String mutateOnce(SparseBytes image, Random r) throws IOException {
        int kind = r.nextInt(100);
        if (kind < 12) return mutateSuper(image, r, SUPER_FIELDS, "superblock");
        if (kind < 18) return mutateSuper(image, r, SYS_ARRAY_FIELDS, "sys_chunk_array");
        // a fifth of the damage goes to the bodies of items whose layout we know, wherever they are: picked by
        // block first, the few file extent, inode ref or extent items would rarely be met
        boolean targeted = kind >= 80 && !bodyItems.isEmpty();
        long[] target = targeted ? bodyItems.get(r.nextInt(bodyItems.size())) : null;
        long logical = targeted ? target[0] : base.treeBlocks().get(r.nextInt(base.treeBlocks().size()));
        int nodesize = base.nodesize();
        long[] copies = base.physical(logical, nodesize);
        byte[] raw = new byte[nodesize];
        image.read(copies[0], raw, 0, nodesize);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        int level = b.get(100);
        // an earlier change of this seed may have damaged the header: only slots inside the block are chosen
        int nritems = (int) Math.min(Integer.toUnsignedLong(b.getInt(96)),
                (nodesize - HEADER) / (level == 0 ? ITEM : KEY_PTR));
        String where = "tree block " + logical + " (owner " + b.getLong(88) + ", level " + level + ")";
        String change;
        if (kind < 35 || nritems <= 0) {
            change = "header " + set(b, 0, pick(r, HEADER_FIELDS), r);
        } else if (level > 0) {
            int slot = r.nextInt(nritems);
            change = "key ptr " + slot + " " + set(b, HEADER + slot * KEY_PTR, pick(r, KEY_PTR_FIELDS), r);
        } else if (kind < 60) {
            int slot = r.nextInt(nritems);
            change = "item " + slot + " " + itemName(b, slot) + " header "
                    + set(b, HEADER + slot * ITEM, pick(r, ITEM_FIELDS), r);
        } else {
            int slot = targeted && target[1] < nritems ? (int) target[1] : r.nextInt(nritems);
            change = "item " + slot + " " + itemName(b, slot) + " body " + mutateBody(b, slot, r);
        }
        seal(b, nodesize);
        for (long p : copies) image.write(p, raw, 0, nodesize);
        return where + " " + change;
    }

    /** An item's key as a patch chooses it. */
    public interface ItemMatch {
        boolean matches(long objectid, int type, long offset);
    }

    /** Changes an item's data in place: (leaf buffer, absolute offset of the data, its size). */
    public interface ItemPatch {
        void apply(ByteBuffer leaf, int dataOffset, int dataSize);
    }

    /**
     * Patches the data of the first leaf item whose key {@code match} accepts, in every copy of its block, and
     * seals the block again; returns that item's key as "(objectid type offset)", or null when none matched.
     */
    public String patchItem(SparseBytes image, ItemMatch match, ItemPatch patch) throws IOException {
        int nodesize = base.nodesize();
        for (long logical : base.treeBlocks()) {
            long[] copies = base.physical(logical, nodesize);
            byte[] raw = new byte[nodesize];
            image.read(copies[0], raw, 0, nodesize);
            ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            if (b.get(100) != 0) continue;
            for (int slot = 0; slot < b.getInt(96); slot++) {
                int at = HEADER + slot * ITEM;
                if (!match.matches(b.getLong(at), Byte.toUnsignedInt(b.get(at + 8)), b.getLong(at + 9))) continue;
                patch.apply(b, HEADER + b.getInt(at + 17), b.getInt(at + 21));
                seal(b, nodesize);
                for (long p : copies) image.write(p, raw, 0, nodesize);
                return itemName(b, slot);
            }
        }
        return null;
    }

    /** Seals a tree block or superblock of {@code length} bytes: its checksum over bytes 32..length. */
    private void seal(ByteBuffer b, int length) {
        byte[] csum = new byte[32];
        base.csumType().compute(b, 32, length - 32, csum);
        b.put(0, csum);
    }

    private static String itemName(ByteBuffer b, int slot) {
        int at = HEADER + slot * ITEM;
        return "(" + b.getLong(at) + " " + Byte.toUnsignedInt(b.get(at + 8)) + " " + Long.toUnsignedString(
                b.getLong(at + 9)) + ")";
    }

    private String mutateBody(ByteBuffer b, int slot, Random r) {
        int at = HEADER + slot * ITEM;
        int type = Byte.toUnsignedInt(b.get(at + 8));
        int dataStart = HEADER + b.getInt(at + 17);
        int size = b.getInt(at + 21);
        if (dataStart < HEADER || size < 0 || (long) dataStart + size > b.capacity()) {
            return "(outside the block, header " + set(b, at, pick(r, ITEM_FIELDS), r) + ")";
        }
        List<Field> fitting = new ArrayList<>();
        for (Field f : BODY_FIELDS.getOrDefault(type, List.of())) {
            if (f.offset() + f.width() <= size) fitting.add(f);
        }
        if (fitting.isEmpty()) {
            if (size == 0) return "(empty, header " + set(b, at, pick(r, ITEM_FIELDS), r) + ")";
            int width = size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1;
            int off = r.nextInt(size - width + 1);
            return set(b, dataStart, new Field("byte" + off, off, width), r);
        }
        return set(b, dataStart, pick(r, fitting), r);
    }

    private String mutateSuper(SparseBytes image, Random r, List<Field> fields, String what)
            throws IOException {
        Field f = pick(r, fields);
        long valueSeed = r.nextLong();
        String change = null;
        for (long copy : SUPER_COPIES) {
            if (copy + SUPER > image.length()) continue;
            byte[] raw = new byte[SUPER];
            image.read(copy, raw, 0, SUPER);
            ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            change = set(b, 0, f, new Random(valueSeed));
            seal(b, SUPER);
            image.write(copy, raw, 0, SUPER);
        }
        return what + " " + change;
    }

    /** Gives field {@code f} of the structure at {@code at} a new value; returns "name: old -> new". */
    private String set(ByteBuffer b, int at, Field f, Random r) {
        int p = at + f.offset();
        long old = switch (f.width()) {
            case 1 -> Byte.toUnsignedLong(b.get(p));
            case 2 -> Short.toUnsignedLong(b.getShort(p));
            case 4 -> Integer.toUnsignedLong(b.getInt(p));
            default -> b.getLong(p);
        };
        long v = old;
        for (int tries = 0; v == old && tries < 8; tries++) v = value(r, old, f.width());
        switch (f.width()) {
            case 1 -> b.put(p, (byte) v);
            case 2 -> b.putShort(p, (short) v);
            case 4 -> b.putInt(p, (int) v);
            default -> b.putLong(p, v);
        }
        long mask = f.width() == 8 ? -1L : (1L << (8 * f.width())) - 1;
        return f.name() + ": " + Long.toUnsignedString(old) + " -> " + Long.toUnsignedString(v & mask);
    }

    /** A value a fuzzer would try for a field that held {@code old}. */
    private long value(Random r, long old, int width) {
        int bits = 8 * width;
        return switch (r.nextInt(12)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> -1L;
            case 3 -> old + 1;
            case 4 -> old - 1;
            case 5 -> old ^ (1L << r.nextInt(bits));
            case 6 -> old * 2;
            case 7 -> bits == 8 ? Long.MAX_VALUE : (1L << (bits - 1));
            case 8 -> base.nodesize() + (r.nextBoolean() ? 0 : r.nextInt(64));
            case 9 -> r.nextInt(4 * base.nodesize());
            case 10 -> old + (r.nextBoolean() ? 1 : -1) * (long) (r.nextInt(1 << 16) + 1) * 4096;
            default -> r.nextLong();
        };
    }

    private static Field pick(Random r, List<Field> fields) {
        return fields.get(r.nextInt(fields.size()));
    }

    private static List<Field> fields(String spec) {
        List<Field> out = new ArrayList<>();
        for (String part : spec.split(",")) {
            String[] w = part.trim().split(" ");
            out.add(new Field(w[0], Integer.parseInt(w[1]), Integer.parseInt(w[2])));
        }
        return List.copyOf(out);
    }

    /** The first (key, chunk item) of the sys_chunk_array, as superblock offsets. */
    private static List<Field> sysArrayFields() {
        List<Field> out = new ArrayList<>();
        for (Field f : KEY_FIELDS) out.add(new Field("key." + f.name(), SYS_ARRAY + f.offset(), f.width()));
        for (Field f : CHUNK_FIELDS) out.add(new Field("chunk." + f.name(), SYS_ARRAY + 17 + f.offset(), f.width()));
        return List.copyOf(out);
    }
}
