package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.alloc.BlockGroups;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.SuperBlock;
import jbtrfs.testing.MemberSets;
import jbtrfs.testing.Shell;
import jbtrfs.volumes.Chunk;
import jbtrfs.volumes.ChunkMap;

/**
 * A set whose SYSTEM chunk is full when the chunk tree must change gets a new SYSTEM chunk in the set's system
 * profile, as the kernel's allocator makes one, and the superblock's sys_chunk_array gains it on every member: the
 * chunk tree's new root lies in it, so the kernel and btrfs check find the chunk tree only through that array.
 * The full chunk is made so by the allocator itself: every free byte of it taken and pinned until the commit (the
 * condition a long-lived set's chunk tree reaches; growing it past mkfs's 8 MiB for real takes thousands of chunks).
 */
class SystemChunkTest {
    @TempDir
    Path dir;

    @Test
    void fullSystemChunk_newRaid1SystemChunkInSysChunkArray_kernelMountsAndCheckClean() throws Exception {
        List<Path> set = MemberSets.mkfs(dir, 2, 256, "-d", "raid1", "-m", "raid1");
        byte[] data = new byte[80 << 20]; // more than mkfs's 64 MiB data chunk: the commit adds a data chunk
        new Random(27).nextBytes(data);
        long newChunk;
        try (Filesystem fs = Filesystem.open(set.get(0), MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withDevices(set.subList(1, 2), false))) {
            BlockGroups groups = fs.transactions().blockGroups();
            int nodesize = fs.superBlock().nodesize();
            int taken = 0;
            for (long at; (at = groups.tryAllocate(BlockGroupFlags.SYSTEM, nodesize, nodesize)) >= 0; taken++) {
                groups.pin(at, nodesize);
            }
            assertTrue(taken > 0, "the system chunk had no free block to take");
            FsOperations ops = fs.operations();
            InodeId f = ops.mknod(ops.root(), "big", Stat.S_IFREG | 0644, 0, 0, 0);
            ops.write(f, 0, ByteBuffer.wrap(data));
            ops.sync();
            List<Chunk> system = systemChunks(set.get(0));
            assertEquals(2, system.size(), "SYSTEM chunks in the sys_chunk_array: " + system);
            Chunk made = system.get(1);
            assertEquals(BlockGroupFlags.SYSTEM | BlockGroupFlags.RAID1, made.item().type(), "the new chunk's type");
            assertEquals(2, made.item().numStripes(), "stripes of the new RAID1 system chunk");
            assertEquals(32L << 20, made.length(), "the kernel's system chunk size on this set");
            newChunk = made.logical();
        }
        for (Path member : set) {
            SuperBlock sb = superBlock(member);
            assertEquals(2, systemChunks(member).size(), member + ": SYSTEM chunks in its sys_chunk_array");
            Chunk root = ChunkMap.fromSysChunkArray(sb.sysChunkArray(), sb.sectorsize()).find(sb.chunkRoot());
            assertNotNull(root, "the chunk root lies in no chunk of the sys_chunk_array");
            assertEquals(newChunk, root.logical(), "the chunk tree's root lies in the new system chunk");
        }
        Shell.Result check = MemberSets.check(set);
        assertEquals(0, check.exitCode(), check.output());
        String want = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        String got = MemberSets.withKernelMount(set, dir, "ro", mnt -> Shell.run(List.of("sha256sum",
                mnt.resolve("big").toString())).split(" ")[0]);
        assertEquals(want, got, "the file as the kernel reads it");
    }

    private static SuperBlock superBlock(Path member) throws Exception {
        try (FileChannel ch = FileChannel.open(member)) {
            ByteBuffer b = ByteBuffer.allocate(SuperBlock.SIZE).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, SuperBlock.MIRROR_OFFSETS[0]);
            return SuperBlock.decode(b.flip());
        }
    }

    private static List<Chunk> systemChunks(Path member) throws Exception {
        SuperBlock sb = superBlock(member);
        return new ArrayList<>(ChunkMap.fromSysChunkArray(sb.sysChunkArray(), sb.sectorsize()).chunks());
    }
}
