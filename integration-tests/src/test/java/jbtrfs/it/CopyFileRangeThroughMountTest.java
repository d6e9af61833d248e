package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * copy_file_range(2) and cp through the native transport (FUSE_COPY_FILE_RANGE) share extents as the kernel's Btrfs
 * does: the same counts and contents on both mounts, then the kernel's `btrfs filesystem du` finds the same shared
 * and exclusive bytes in our image as in its own, and btrfs check is clean; a plain cp's copy has the source's
 * physical extents in FIEMAP on the kernel's mount of our image.
 */
class CopyFileRangeThroughMountTest {
    /** Sources of known bytes (both mounts must hold the same), copies, then a write over the source (COW). */
    static final String SCRIPT = """
            set +o pipefail
            mkdir d
            yes 'some text to copy' | head -c 300000 > src
            python3 -c 'import os; os.write(os.open("blocks", os.O_WRONLY | os.O_CREAT, 0o644), bytes(range(256)) * 1024)'
            python3 - <<'PY'
            import os
            def copy(src, dst, length, off_in, off_out):
                s = os.open(src, os.O_RDONLY); d = os.open(dst, os.O_WRONLY | os.O_CREAT, 0o644)
                print(dst, os.copy_file_range(s, d, length, off_in, off_out))
                os.close(s); os.close(d)
            copy("src", "d/whole", 300000, 0, 0)
            copy("blocks", "d/part", 65536, 65536, 8192)
            copy("src", "d/unaligned", 50000, 1000, 0)
            copy("blocks", "blocks", 16384, 0, 262144)
            PY
            cp --reflink=auto blocks d/cp
            sha256sum src blocks d/*
            python3 -c 'import os; os.pwrite(os.open("blocks", os.O_WRONLY), b"x" * 4096, 0)'
            sha256sum blocks d/cp d/part
            """;

    @TempDir
    Path dir;

    @Test
    void copiesOnTheNativeTransport_shareWhatTheKernelShares() throws Exception {
        // native whatever -Djbtrfs.transport says (the last option wins): libfuse 2 has no copy_file_range
        SideBySide.Outputs out = SideBySide.run(dir, SCRIPT, 256, "-o", "transport=native");
        assertEquals(out.kernel(), out.ours());
        assertTrue(out.ours().contains("d/whole 300000"), out.ours());
        BtrfsCheck.assertCleanWithData(out.ourImage(), "after copy_file_range through the mount");
        String du = "btrfs filesystem du --raw src blocks d/whole d/part d/unaligned d/cp";
        Path mnt = Files.createDirectory(dir.resolve("du"));
        assertEquals(Images.kernelScript(out.kernelImage(), mnt, du), Images.kernelScript(out.ourImage(), mnt, du),
                "btrfs filesystem du: total, exclusive and shared bytes");
    }

    @Test
    void cpOnOurMount_sharesThePhysicalExtents_asFiemapOnTheKernelsMountShows() throws Exception {
        Jbtrfs.requireNativeMount("copy_file_range (FUSE_COPY_FILE_RANGE)");
        Prereq.requireBinary("xfs_io", "apt-get install xfsprogs");
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, "-o", "transport=native")) {
            Shell.sh("head -c 3M /dev/urandom > src && cp src copy && sha256sum src | cut -c1-64 > sum", mnt);
        }
        Images.withKernelMount(image, mnt, "ro", () -> {
            // "0: [0..6143]: 269312..275455": logical and physical 512-byte sectors of each extent
            String src = Shell.sh("xfs_io -r -c 'fiemap' src | tail -n +2", mnt);
            String copy = Shell.sh("xfs_io -r -c 'fiemap' copy | tail -n +2", mnt);
            assertEquals(src, copy, "the copy's extents are the source's");
            assertTrue(src.matches("(?s)\\s*0: \\[0\\.\\.\\d+\\]: \\d+\\.\\.\\d+\\n.*"), src);
            assertEquals(Shell.sh("cat sum", mnt), Shell.sh("sha256sum copy | cut -c1-64", mnt));
            return null;
        });
        BtrfsCheck.assertCleanWithData(image, "after cp on our mount");
    }
}
