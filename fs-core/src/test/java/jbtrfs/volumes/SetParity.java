package jbtrfs.volumes;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.Stripe;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.Shell;

/**
 * The parity of every RAID5/6 full stripe of a set's member files, computed here from the data and compared with
 * the P (and Q) the members hold. The chunks come from {@code btrfs inspect-internal dump-tree} (btrfs-progs' reading,
 * not ours). A full stripe whose data or P is all zeros was never written with parity (mkfs leaves such rows), and one
 * over a superblock copy is never allocated (the superblock goes there without parity): both are left out.
 * The kernel's scrub is no check of this: it rewrites a wrong P or Q without counting an error.
 */
public final class SetParity {
    /** How many full stripes were compared, and each one whose parity is not that of its data. */
    public record Result(int checked, List<String> mismatches) {
    }

    private SetParity() {
    }

    public static Result check(List<Path> files) throws Exception {
        Map<Long, FileChannel> byDevid = new HashMap<>();
        try {
            for (Path f : files) {
                FileChannel ch = FileChannel.open(f, StandardOpenOption.READ);
                byDevid.put(read(ch, SuperBlock.MIRROR_OFFSETS[0] + SuperBlock.OFFSET_DEV_ITEM, 8)
                        .order(ByteOrder.LITTLE_ENDIAN).getLong(0), ch);
            }
            List<String> cmd = new ArrayList<>(List.of("btrfs", "inspect-internal", "dump-tree", "-t", "chunk",
                    "--noscan"));
            for (Path f : files) cmd.add(f.toString());
            int checked = 0;
            List<String> mismatches = new ArrayList<>();
            for (Chunk c : parityChunks(Shell.run(cmd))) {
                int dataStripes = c.dataStripes();
                boolean raid6 = c.item().numStripes() - dataStripes == 2;
                long fullStripeBytes = dataStripes * ChunkItem.STRIPE_LEN;
                for (long at = c.logical(); at < c.end(); at += fullStripeBytes) {
                    byte[][] data = new byte[dataStripes][];
                    boolean written = false;
                    for (int i = 0; i < dataStripes; i++) {
                        data[i] = slot(byDevid, c, at, i);
                        written |= !zeros(data[i]);
                    }
                    byte[] p = slot(byDevid, c, at, dataStripes);
                    if (!written || zeros(p) || holdsSuperblock(c, at)) continue;
                    checked++;
                    if (!ByteBuffer.wrap(Parity.p(data)).equals(ByteBuffer.wrap(p))) {
                        mismatches.add("P of the full stripe at logical " + at);
                    }
                    if (raid6 && !ByteBuffer.wrap(Parity.q(data)).equals(
                            ByteBuffer.wrap(slot(byDevid, c, at, dataStripes + 1)))) {
                        mismatches.add("Q of the full stripe at logical " + at);
                    }
                }
            }
            return new Result(checked, mismatches);
        } finally {
            for (FileChannel ch : byDevid.values()) ch.close();
        }
    }

    private static boolean zeros(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    private static byte[] slot(Map<Long, FileChannel> byDevid, Chunk c, long at, int slot) throws IOException {
        Chunk.Placement place = c.paritySlot(at, slot);
        return read(byDevid.get(place.devid()), place.physical(), (int) ChunkItem.STRIPE_LEN).array();
    }

    private static boolean holdsSuperblock(Chunk c, long at) {
        for (int slot = 0; slot < c.item().numStripes(); slot++) {
            long physical = c.paritySlot(at, slot).physical();
            for (long mirror : SuperBlock.MIRROR_OFFSETS) {
                if (mirror >= physical && mirror < physical + ChunkItem.STRIPE_LEN) return true;
            }
        }
        return false;
    }

    private static ByteBuffer read(FileChannel ch, long offset, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b, offset + b.position()) < 0) break;
        }
        return b;
    }

    private static final Pattern CHUNK = Pattern.compile("CHUNK_ITEM (\\d+)\\).*?\\n\\s+length (\\d+) owner \\d+ "
            + "stripe_len (\\d+) type \\S+\\|(RAID5|RAID6)\\n.*?num_stripes (\\d+) sub_stripes (\\d+)", Pattern.DOTALL);
    private static final Pattern STRIPE = Pattern.compile("stripe (\\d+) devid (\\d+) offset (\\d+)");

    /** The RAID5/6 chunks dump-tree lists, as our Chunk records. */
    private static List<Chunk> parityChunks(String dump) {
        List<Chunk> out = new ArrayList<>();
        for (String item : dump.split("\\n\\s+item ")) {
            Matcher m = CHUNK.matcher(item);
            if (!m.find()) continue;
            long type = BlockGroupFlags.DATA | (m.group(4).equals("RAID5") ? BlockGroupFlags.RAID5 : BlockGroupFlags.RAID6);
            List<Stripe> stripes = new ArrayList<>();
            Matcher s = STRIPE.matcher(item);
            while (s.find()) stripes.add(new Stripe(Long.parseLong(s.group(2)), Long.parseLong(s.group(3)), new byte[16]));
            int n = Integer.parseInt(m.group(5));
            if (n != stripes.size()) throw new IllegalStateException("dump-tree lists " + stripes.size() + " of " + n
                    + " stripes: " + item);
            out.add(new Chunk(Long.parseLong(m.group(1)), new ChunkItem(Long.parseLong(m.group(2)), 2,
                    Long.parseLong(m.group(3)), type, 65536, 65536, 4096, n, Integer.parseInt(m.group(6)), stripes)));
        }
        if (out.isEmpty()) throw new IllegalStateException("dump-tree lists no RAID5/6 chunk");
        return out;
    }
}
