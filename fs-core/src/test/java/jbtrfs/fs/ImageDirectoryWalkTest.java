package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import jbtrfs.FsException;
import jbtrfs.testing.ImageWalk;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;

/**
 * Opens every image of a directory read-only and walks it ({@link ImageWalk}): for damaged images from elsewhere
 * (btrfs-progs' fuzz-tests and fsck-tests, unpacked to raw images), which the repo does not carry. Each must open
 * and walk, or be refused, with FsExceptions only. Runs only when asked:
 * {@code mvn -o -pl fs-core -am test -Dtest=ImageDirectoryWalkTest -Djbtrfs.walkImages=DIR
 * -Dsurefire.failIfNoSpecifiedTests=false}; prints one line an image. With {@code -Djbtrfs.walkImages.rw=true},
 * a copy of each is then opened read-write, walked, given a new file and one fewer, and closed (a commit): an
 * FsException that wraps an unchecked one ("internal error") fails too.
 */
class ImageDirectoryWalkTest {
    private static final long TIMEOUT_S = 60;

    @Test
    void everyImage_opensOrIsRefusedWithATypedError() throws Exception {
        String dir = System.getProperty("jbtrfs.walkImages");
        Prereq.require(dir != null, "-Djbtrfs.walkImages=DIR names no directory of images");
        List<Path> images;
        try (Stream<Path> s = Files.list(Path.of(dir))) {
            images = s.filter(p -> p.toString().endsWith(".raw") || p.toString().endsWith(".img")).sorted().toList();
        }
        List<String> failures = new ArrayList<>();
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "image-walk");
            t.setDaemon(true);
            return t;
        });
        for (Path image : images) {
            boolean rw = Boolean.getBoolean("jbtrfs.walkImages.rw");
            Future<String> f = pool.submit(() -> openAndWalk(image) + (rw ? "; read-write: " + writeCopy(image) : ""));
            String line;
            try {
                line = f.get(TIMEOUT_S, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                line = "HUNG (over " + TIMEOUT_S + " s)";
                failures.add(image.getFileName() + ": " + line);
            } catch (ExecutionException e) {
                Throwable t = e.getCause();
                StringWriter sw = new StringWriter();
                t.printStackTrace(new PrintWriter(sw));
                line = "UNCHECKED " + sw.toString().lines().limit(8).reduce((a, b) -> a + "\n    " + b).orElse("");
                failures.add(image.getFileName() + ": " + t);
            }
            System.out.println(image.getFileName() + ": " + line);
        }
        pool.shutdownNow();
        assertTrue(failures.isEmpty(), failures.size() + " of " + images.size() + " images:\n"
                + String.join("\n", failures));
    }

    /** Read-write on a copy: walk, create and write a file, remove one, close; what happened in a few words. */
    private static String writeCopy(Path image) throws Exception {
        Path copy = Files.createTempFile("jbtrfs-walk", ".img");
        try {
            Shell.run(List.of("cp", "--sparse=always", image.toString(), copy.toString()));
            Filesystem fs;
            try {
                fs = Filesystem.open(copy, MountOptions.readWriteDefaults().withCommitSeconds(0));
            } catch (FsException e) {
                return "refused: " + typed(e);
            }
            String change = "changed";
            try {
                FsOperations ops = fs.operations();
                ImageWalk.walk(ops);
                InodeId f = ops.mknod(ops.root(), "walk-new", Stat.S_IFREG | 0644, 0, 0, 0);
                ops.write(f, 0, ByteBuffer.wrap(new byte[5000]));
                for (DirEntry e : ops.readdir(ops.root(), 0, 64)) {
                    if (e.type() == 8 && !e.name().equals("walk-new")) {
                        ops.unlink(ops.root(), e.name());
                        break;
                    }
                }
            } catch (FsException e) {
                change = "change refused: " + typed(e);
            }
            try {
                fs.close();
                return change + ", committed";
            } catch (FsException e) {
                return change + ", commit failed: " + typed(e);
            }
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    /** The message of a typed error; one that wraps an unchecked exception fails the test. */
    private static String typed(FsException e) {
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            if (c instanceof RuntimeException || c instanceof Error) throw new AssertionError("unchecked inside", e);
        }
        if (e.getMessage().contains("internal error")) throw new AssertionError("untyped: " + e.getMessage(), e);
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private static String openAndWalk(Path image) throws Exception {
        Filesystem fs;
        try {
            fs = Filesystem.open(image, MountOptions.readOnlyDefaults());
        } catch (FsException e) {
            assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
            return "refused: " + e.getClass().getSimpleName() + ": " + e.getMessage();
        }
        try (fs) {
            ImageWalk.Result r = ImageWalk.walk(fs.operations());
            return "walked " + r.entries() + " entries, " + r.bytesRead() + " bytes, " + r.errors().size()
                    + " errors" + (r.errors().isEmpty() ? "" : " (first: " + r.errors().get(0) + ")");
        }
    }
}
