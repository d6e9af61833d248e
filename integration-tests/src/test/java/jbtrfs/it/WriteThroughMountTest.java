package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * POSIX programs change an image through our read-write mount; after unmount btrfs check is clean and the kernel
 * shows exactly what our mount showed. Then the kernel writes, we mount and write again, and the same holds.
 */
class WriteThroughMountTest {
    /**
     * A varied workload: copies, a 20,000-entry directory, dense and sparse files, every kind of change. Commands
     * are joined by ";" (under set -e a failure inside an && list would go unnoticed).
     */
    static final String WORKLOAD = """
            set -e
            cp -a /usr/include/linux tree
            mkdir many && (cd many && seq 1 20000 | sed 's/^/entry-/' | xargs touch)
            dd if=/dev/urandom of=dense bs=1M count=48 status=none
            for off in 3 17 29 40; do dd if=/dev/urandom of=dense bs=4k count=3 seek=$((off * 256 + 1)) conv=notrunc status=none; done
            head -c 100000 /dev/urandom >> dense
            truncate -s 3G sparse; dd if=/dev/urandom of=sparse bs=64k count=3 seek=20000 conv=notrunc status=none
            echo small > small; echo more >> small
            ls tree | sed -n 1,5p | while read f; do mv "tree/$f" "tree/$f.moved"; done
            ln small small-link; ln -s ../small tree/symlink; rm -f tree/*.h.moved
            truncate -s 1000 "$(ls -S tree/*.h | sed -n 1p)"
            setfattr -n user.color -v blue small; setfacl -m u:1234:r small
            chmod 4750 small; chown 12:34 dense; touch -d '2001-02-03 04:05:06.789' small-link
            touch -m -d @1950000000 tree; touch -a -d @1900000000 tree
            fallocate -l 10M pre; fallocate -n -o 12M -l 1M pre; fallocate -p -o 4096 -l 8192 dense
            fallocate -z -o 5000 -l 70000 dense; fallocate -z -o 10M -l 3M pre; fallocate -z -n -o 50M -l 1M dense
            mkfifo fifo; mknod chr c 1 3; mknod blk b 7 0
            mkdir -p a/b/c; mv a/b a/moved; rmdir a/moved/c
            rm -rf many/entry-1*
            sync
            """;

    @TempDir
    Path dir;

    /** mkfs options, then after " | " our mount's -o options. */
    @ParameterizedTest(name = "mkfs {0}")
    @ValueSource(strings = {"", "-O ^no-holes", "-n 65536 --csum sha256", "-n 4096 --csum xxhash",
            "-n 4096 | compress=zstd"})
    void workloadThroughOurMount_checkClean_kernelShowsTheSame(String variant) throws Exception {
        Prereq.requireFuse();
        Images.requireRootAndLoop();
        String mkfsOptions = variant.split(" \\| ")[0];
        String[] mountOptions = variant.contains(" | ") ? new String[] {"-o", variant.split(" \\| ")[1]}
                : new String[0];
        String[] opts = mkfsOptions.isEmpty() ? new String[0] : mkfsOptions.split(" ");
        Path image = Images.mkfs(dir, null, 1024, opts);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        for (int pass = 0; pass < 2; pass++) {
            Map<String, String> ours;
            try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt, mountOptions)) {
                Shell.sh(pass == 0 ? WORKLOAD : "set -e\nrm -rf tree/asm* kernel-0/bash\ncp -a /usr/include/sound ours-"
                        + pass + "\ndd if=/dev/urandom of=dense bs=4k count=10 seek=5 conv=notrunc status=none\n"
                        + "mv kernel-0 renamed-by-us\nsync\n", mnt);
                ours = TreeListing.ofMount(mnt);
            }
            BtrfsCheck.assertCleanWithData(image, variant + " pass " + pass);
            if (mountOptions.length > 0 && pass == 0) {
                // the headers copied in went into compressed extents, as on a kernel mount with the option
                String dump = Shell.sh("btrfs inspect-internal dump-tree -t 5 " + image);
                assertTrue(dump.split("extent compression 3 \\(zstd\\)", -1).length > 20, "few zstd extents");
            }
            assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
            if (pass == 0) {
                Shell.sh("mount -o loop " + image + " " + mnt + " && mkdir " + mnt + "/kernel-0 && cp -a "
                        + "/usr/share/doc/bash " + mnt + "/kernel-0/ && rm -f " + mnt + "/small && umount " + mnt);
                BtrfsCheck.assertCleanWithData(image, variant + " after the kernel");
            }
        }
    }

}
