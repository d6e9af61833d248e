package jbtrfs.spacecache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;
import jbtrfs.device.SparseBytes;
import jbtrfs.format.SuperBlock;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;
import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.PowerCuts;
import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * Power loss during commits that write the v1 space cache. At least half the cuts are aimed at the commit's
 * phases, found in a recorded clean run: the cache pages, just after them, the tree blocks, the flush and the
 * superblock copies. Every cut image must check clean, hold the last synced state or the next, and a mount must
 * find each cache exact or ignorable, never one that lies. Then a cache write that fails (EIO): the commit goes
 * on, and only that group's cache is left for the next mount to rebuild.
 * {@code -Djbtrfs.powercuts=1000} runs the long version.
 */
class SpaceCachePowerCutTest {
    private static final Logger LOG = LoggerFactory.getLogger(SpaceCachePowerCutTest.class);
    private static final int ROUNDS = 5;
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void powerCutInCacheAndSuperblockWrites_imageOldOrNew_checkClean_noCacheLies() throws Exception {
        SparseBytes image = SparseBytes.readFrom(Images.mkfs(dir, null, 1200, "-R", "^free-space-tree"));
        // a clean run: the committed states, the requests, and which of them each commit phase made
        List<Map<String, String>> states = new ArrayList<>();
        MemoryBlockDevice clean = device(image, FaultPlan.none(), 1).recordRequests();
        List<long[]> syncs = new ArrayList<>();
        assertEquals(ROUNDS, run(clean, states, syncs, null));
        List<MemoryBlockDevice.Submitted> requests = clean.submittedRequests();
        Path finalImage = dir.resolve("final.img");
        clean.powerCutTo(finalImage, 0); // everything was flushed at close: this is the final image
        Map<String, List<Long>> phases = CommitPhases.of(requests, syncs, dataChunks(finalImage));
        phases.forEach((phase, seqs) -> LOG.info("clean run: {} requests in phase '{}'", seqs.size(), phase));
        assertTrue(!phases.get("cache pages").isEmpty(), "the workload wrote no space cache");

        int cuts = Integer.getInteger("jbtrfs.powercuts", 100);
        Random rnd = new Random(42);
        List<String> phaseNames = new ArrayList<>(phases.keySet());
        Map<String, Integer> seen = new TreeMap<>();
        Path cutImage = dir.resolve("cut.img");
        for (int i = 0; i < cuts; i++) {
            // even cuts anywhere, odd ones in a commit phase picked evenly (so the short phases are hit too)
            String phase = i % 2 == 0 ? "anywhere" : phaseNames.get(rnd.nextInt(phaseNames.size()));
            List<Long> in = phases.get(phase);
            long n = in == null ? 1 + (long) (rnd.nextDouble() * requests.size()) : in.get(rnd.nextInt(in.size()));
            long seed = rnd.nextLong();
            MemoryBlockDevice dev = device(image, FaultPlan.none().failFromNth(n), seed);
            int done = run(dev, null, null, null);
            dev.powerCutTo(cutImage, seed);
            String what = "cut " + i + " (" + phase + ") at request " + n + " of " + requests.size() + " (seed " + seed
                    + ", " + done + " syncs returned)";
            BtrfsCheck.assertClean(cutImage, what);
            Map<String, String> got;
            Map<Long, SpaceCacheLoader.Result> caches;
            try (Filesystem fs = Filesystem.open(cutImage, MountOptions.readWriteDefaults())) {
                got = PowerCuts.withoutTimes(TreeListing.ofOperations(fs.operations()));
                caches = new TreeMap<>(fs.spaceCachesAtMount());
            }
            PowerCuts.assertDoneOrNext(states, done, got, what + ", the image");
            List<String> invalid = new ArrayList<>();
            caches.values().forEach(r -> {
                seen.merge(r.state() + (r.why() == null ? "" : ": " + r.why().replaceAll("\\d+", "N")), 1, Integer::sum);
                if (r.state() == SpaceCacheLoader.State.INVALID) invalid.add(r.toString());
            });
            assertTrue(invalid.isEmpty(), what + ": caches a mount would have to distrust: " + invalid);
        }
        LOG.info("caches found at mount over {} cuts: {}", cuts, seen);
    }

    @Test
    void cacheWriteFails_commitGoesOn_thatCacheIgnoredAtMount_othersValid_dataIntact() throws Exception {
        SparseBytes image = SparseBytes.readFrom(Images.mkfs(dir, null, 1200, "-R", "^free-space-tree"));
        MemoryBlockDevice clean = device(image, FaultPlan.none(), 1);
        assertEquals(ROUNDS, run(clean, new ArrayList<>(), null, null));
        Path cleanImage = dir.resolve("clean.img");
        clean.powerCutTo(cleanImage, 0); // all flushed: the final image
        // the last commit's cache files; the same deterministic workload puts them at the same place again
        Map<Long, long[]> files = SpaceCacheV1Test.cacheFiles(cleanImage);
        assertTrue(files.size() >= 2, "block groups with caches: " + files.keySet());
        long group = files.keySet().iterator().next();
        long from = SpaceCacheV1Test.physical(cleanImage, files.get(group)[0]);
        long to = from + files.get(group)[1];

        MemoryBlockDevice dev = device(image, FaultPlan.none().failRange(from, to, false, true), 1);
        Map<String, byte[]> model = new TreeMap<>();
        assertEquals(ROUNDS, run(dev, null, null, model), "every sync returns though a cache write failed");
        // no "cache" in the name: BtrfsCheck takes any output line with that word for a complaint
        Path out = dir.resolve("eio.img");
        dev.powerCutTo(out, 0);
        BtrfsCheck.assertCleanWithData(out, "after the failed cache write");
        try (Filesystem fs = Filesystem.open(out, MountOptions.readWriteDefaults())) {
            Map<Long, SpaceCacheLoader.Result> caches = fs.spaceCachesAtMount();
            SpaceCacheLoader.Result failed = caches.get(group);
            assertEquals(SpaceCacheLoader.State.MISSING, failed.state(), failed.toString());
            assertEquals("marked invalid by its writer", failed.why());
            for (long bg : files.keySet()) {
                if (bg != group) assertEquals(SpaceCacheLoader.State.VALID, caches.get(bg).state(), "" + caches.get(bg));
            }
            FsOperations ops = fs.operations();
            for (Map.Entry<String, byte[]> e : model.entrySet()) {
                byte[] got = new byte[e.getValue().length];
                ops.read(ops.resolve("/" + e.getKey()), 0, ByteBuffer.wrap(got));
                assertArrayEquals(e.getValue(), got, e.getKey());
            }
        }
    }

    private static MemoryBlockDevice device(SparseBytes image, FaultPlan plan, long seed) {
        return MemoryBlockDevice.create(image, 64, plan, seed, new SimpleMeterRegistry());
    }

    /**
     * The workload: each round writes files of 8 to 24 MiB and deletes one file of every earlier round, so a commit
     * dirties the group being filled and older ones. A file is zeros but for a random first and last 4 KiB: the
     * filesystem writes every byte, the sparse device keeps only the random pages, so 100 runs stay fast. Returns how many syncs returned; records each committed state
     * ({@code states}), each sync's request numbers {first, last} ({@code syncs}) and the files' final content
     * ({@code model}) when given.
     */
    private static int run(MemoryBlockDevice dev, List<Map<String, String>> states, List<long[]> syncs,
                           Map<String, byte[]> model) throws Exception {
        int synced = 0;
        Filesystem fs = PowerCuts.openOrNull(dev);
        if (fs == null) return 0;
        Map<String, byte[]> files = new LinkedHashMap<>();
        try {
            FsOperations ops = fs.operations();
            if (states != null) states.add(PowerCuts.withoutTimes(TreeListing.ofOperations(ops)));
            Random rnd = new Random(7);
            for (int round = 0; round < ROUNDS; round++) {
                for (int f = 0; f < 6; f++) {
                    String name = "r" + round + "-" + f;
                    byte[] data = new byte[(8 + rnd.nextInt(17)) * MIB - rnd.nextInt(5000)];
                    byte[] noise = new byte[4096];
                    rnd.nextBytes(noise);
                    System.arraycopy(noise, 0, data, 0, noise.length);
                    rnd.nextBytes(noise);
                    System.arraycopy(noise, 0, data, data.length - noise.length, noise.length);
                    InodeId file = ops.mknod(ops.root(), name, Stat.S_IFREG | 0644, 0, 0, 0);
                    ops.write(file, 0, ByteBuffer.wrap(data));
                    files.put(name, data);
                }
                for (int old = 0; old < round; old++) {
                    String name = "r" + old + "-" + (round - old);
                    ops.unlink(ops.root(), name);
                    files.remove(name);
                }
                long before = dev.requestsSubmitted();
                ops.sync();
                synced++;
                if (syncs != null) syncs.add(new long[] {before + 1, dev.requestsSubmitted()});
                if (states != null) states.add(PowerCuts.withoutTimes(TreeListing.ofOperations(ops)));
            }
            fs.close();
        } catch (Exception e) {
            // the power went at this request: nothing more reaches the disk; what returned before must survive
        }
        if (model != null) model.putAll(files);
        return synced;
    }

    /** The physical ranges {start, end} of the data chunks, where cache pages (and file data) go. */
    private static List<long[]> dataChunks(Path image) throws Exception {
        String dump = Shell.sh("btrfs inspect-internal dump-tree -t chunk " + image);
        Matcher m = Pattern.compile("length (\\d+) owner \\d+ stripe_len \\d+\\s+type (\\S+)[\\s\\S]*?stripe 0 devid \\d+ "
                + "offset (\\d+)").matcher(dump);
        List<long[]> out = new ArrayList<>();
        while (m.find()) {
            if (m.group(2).startsWith("DATA")) {
                long start = Long.parseLong(m.group(3));
                out.add(new long[] {start, start + Long.parseLong(m.group(1))});
            }
        }
        assertTrue(!out.isEmpty(), "no data chunk in\n" + dump);
        return out;
    }


    /**
     * The request numbers of each commit phase in a recorded run: inside a sync, the writes to data chunks are the
     * cache pages (file data was written before the sync), the other writes are tree blocks and superblock copies
     * (at the mirror offsets), and the flushes frame the superblocks.
     */
    static final class CommitPhases {
        private CommitPhases() {
        }

        static Map<String, List<Long>> of(List<MemoryBlockDevice.Submitted> requests, List<long[]> syncs,
                                          List<long[]> dataChunks) {
            Map<String, List<Long>> out = new LinkedHashMap<>();
            for (String p : List.of("cache pages", "first cache page", "last cache page", "right after the cache pages",
                    "tree blocks", "flushes", "superblocks")) {
                out.put(p, new ArrayList<>());
            }
            for (long[] sync : syncs) {
                long firstCache = -1;
                long lastCache = -1;
                for (MemoryBlockDevice.Submitted r : requests) {
                    if (r.seq() < sync[0] || r.seq() > sync[1]) continue;
                    if (r.op() == IoRequest.Op.FLUSH) {
                        out.get("flushes").add(r.seq());
                    } else if (r.op() == IoRequest.Op.WRITE) {
                        if (inData(r.offset(), dataChunks)) {
                            out.get("cache pages").add(r.seq());
                            if (firstCache < 0) firstCache = r.seq();
                            lastCache = r.seq();
                        } else if (isSuperBlock(r.offset())) {
                            out.get("superblocks").add(r.seq());
                        } else {
                            out.get("tree blocks").add(r.seq());
                        }
                    }
                }
                if (firstCache > 0) {
                    out.get("first cache page").add(firstCache);
                    out.get("last cache page").add(lastCache);
                    out.get("right after the cache pages").add(lastCache + 1);
                }
            }
            return out;
        }

        private static boolean inData(long offset, List<long[]> chunks) {
            for (long[] c : chunks) if (offset >= c[0] && offset < c[1]) return true;
            return false;
        }

        private static boolean isSuperBlock(long offset) {
            for (long o : SuperBlock.MIRROR_OFFSETS) if (o == offset) return true;
            return false;
        }
    }
}
