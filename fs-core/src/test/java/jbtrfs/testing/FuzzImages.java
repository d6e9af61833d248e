package jbtrfs.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;

import org.junit.jupiter.params.provider.Arguments;

import jbtrfs.Errno;
import jbtrfs.FsException;
import jbtrfs.compress.CompressionType;
import jbtrfs.fs.Filesystem;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.InodeId;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.Stat;

/**
 * The fuzzer's valid images, one per mkfs variant, laid out alike on every run so that a seed damages the same
 * field wherever it runs (in-process in fs-core's ImageFuzzTest, through real mounts in the integration tests):
 * image {@code N} is {@code bases.get(N mod bases.size())} damaged by {@link ImageMutator} with seed {@code N}.
 */
public final class FuzzImages {
    /** All variants fixed to one UUID, so that nothing of the layout depends on the run. */
    private static final String UUID = "1f0e6c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";

    private FuzzImages() {
    }

    /** Number of variants, the modulus of the seed-to-variant rule. */
    public static int variants() {
        return (int) MkfsVariants.arguments().count();
    }

    /**
     * The base image of every variant {@code wanted} accepts, in {@link MkfsVariants} order, made in {@code dir}
     * and checked clean; the others are null, so that {@code seed mod variants()} still indexes the list.
     */
    public static List<FuzzBase> bases(Path dir, Predicate<String> wanted) throws Exception {
        List<FuzzBase> out = new ArrayList<>();
        for (Arguments a : MkfsVariants.arguments().toList()) {
            String name = (String) a.get()[0];
            if (!wanted.test(name)) {
                out.add(null);
                continue;
            }
            List<String> opts = new ArrayList<>(Arrays.asList((String[]) a.get()[1]));
            opts.addAll(List.of("-U", UUID));
            Path image = Images.mkfs(dir, null, 256, opts.toArray(String[]::new));
            content(image);
            BtrfsCheck.assertClean(image, name + " base image");
            out.add(FuzzBase.of(name, image));
        }
        return out;
    }

    /**
     * After a commit that reported success, the image at {@code image} must show {@code file} holding {@code data}
     * (null: it was not written) and not {@code removed} (null: nothing was); what it does not show goes to
     * {@code problems}, as a lost write.
     */
    public static void checkWritten(Path image, String file, byte[] data, String removed, List<String> problems) {
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            if (data != null) {
                ByteBuffer b = ByteBuffer.allocate(data.length + 1);
                int n = ops.read(ops.lookup(ops.root(), file), 0, b);
                if (n != data.length || !Arrays.equals(Arrays.copyOf(b.array(), n), data)) {
                    problems.add("write lost: after the commit " + file + " reads " + n + " bytes, not ours");
                }
            }
            if (removed != null) {
                try {
                    ops.lookup(ops.root(), removed);
                    problems.add("unlink lost: " + removed + " is back after the commit");
                } catch (FsException expected) {
                    if (expected.errno() != Errno.ENOENT) throw expected;
                    // gone, as committed
                }
            }
        } catch (FsException e) {
            problems.add("write lost: the commit was reported done, then the image reads: " + e.getMessage());
        } catch (Exception | Error e) {
            StackTraceElement[] st = e.getStackTrace();
            problems.add("reopen after commit: " + e + (st.length > 0 ? " at " + st[0] : ""));
        }
    }

    /**
     * The content, written in-process so that every run lays it out alike (mkfs --rootdir would follow the host
     * directory's readdir order, and the same seed would damage another block): files around the inline and sector
     * sizes, a directory of 150 names three levels down, a symlink, a hard link, xattrs on a file and a directory,
     * and zstd-compressed extents, regular and inline.
     */
    private static void content(Path image) throws IOException {
        Random r = new Random(16);
        MountOptions rw = MountOptions.readWriteDefaults().withCommitSeconds(0);
        try (Filesystem fs = Filesystem.open(image, rw)) {
            FsOperations ops = fs.operations();
            InodeId root = ops.root();
            for (int size : new int[] {0, 100, 2000, 3000, 4096, 5000, 70_000, 300_000}) {
                byte[] b = new byte[size];
                r.nextBytes(b);
                InodeId f = ops.mknod(root, "f" + size, Stat.S_IFREG | 0644, 0, 0, 0);
                if (size > 0) ops.write(f, 0, ByteBuffer.wrap(b));
            }
            InodeId a = ops.mkdir(root, "a", 0755, 0, 0);
            InodeId many = ops.mkdir(ops.mkdir(ops.mkdir(a, "b", 0755, 0, 0), "c", 0755, 0, 0), "many", 0755, 0, 0);
            for (int i = 0; i < 150; i++) {
                InodeId f = ops.mknod(many, "entry-" + i + "-" + "x".repeat(i % 30), Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(("" + i).getBytes(StandardCharsets.UTF_8)));
            }
            ops.symlink(root, "link", "f100", 0, 0);
            ops.link(ops.lookup(root, "f5000"), a, "hardlink");
            InodeId f100 = ops.lookup(root, "f100");
            ops.setXattr(f100, "user.comment", "hello xattr".getBytes(StandardCharsets.UTF_8), 0);
            ops.setXattr(f100, "user.big", new byte[1500], 0);
            ops.setXattr(a, "user.dir", "on a directory".getBytes(StandardCharsets.UTF_8), 0);
        }
        MountOptions compress = MountOptions.readWriteDefaults().withCommitSeconds(0)
                .withCompression(new MountOptions.Compression(CompressionType.ZSTD, 3, false));
        try (Filesystem fs = Filesystem.open(image, compress)) {
            FsOperations ops = fs.operations();
            InodeId d = ops.mkdir(ops.root(), "compressed", 0755, 0, 0);
            byte[] text = "compressible text line, again and again\n".repeat(5000).getBytes(StandardCharsets.UTF_8);
            ops.write(ops.mknod(d, "big", Stat.S_IFREG | 0644, 0, 0, 0), 0, ByteBuffer.wrap(text));
            ops.write(ops.mknod(d, "small", Stat.S_IFREG | 0644, 0, 0, 0), 0, ByteBuffer.wrap(text, 0, 3000));
        }
    }
}
