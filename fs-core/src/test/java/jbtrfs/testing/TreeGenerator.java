package jbtrfs.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.Random;

/**
 * A deterministic varied tree for {@code mkfs.btrfs --rootdir}: sizes around the inline, sector and node limits,
 * sparse files, deep nesting, a directory of thousands of entries, long and unicode names, links, xattrs. With
 * {@code asRoot}, also owners, setuid/setgid/sticky modes, fifos, sockets, device nodes, trusted. and security.
 * xattrs, and times with nanoseconds.
 */
public final class TreeGenerator {
    private TreeGenerator() {
    }

    public static void make(Path root, long seed, boolean asRoot) throws IOException, InterruptedException {
        Random r = new Random(seed);
        int[] sizes = {0, 1, 100, 2047, 2048, 3000, 4095, 4096, 4097, 8192, 16383, 16384, 16385, 65536, 100_000,
                131072, 131073, 1_000_000, 3_000_000};
        Path files = Files.createDirectory(root.resolve("files"));
        for (int s : sizes) {
            byte[] b = new byte[s];
            if (s % 2 == 0) r.nextBytes(b);
            else for (int i = 0; i < s; i++) b[i] = (byte) ("compressible text " + (i / 64)).charAt(i % 17);
            Files.write(files.resolve("f" + s), b);
        }
        try (RandomAccessFile raf = new RandomAccessFile(files.resolve("sparse").toFile(), "rw")) {
            raf.seek(1 << 20);
            raf.write("middle".getBytes());
            raf.setLength(5L << 20);
        }
        Path deep = root;
        for (int i = 0; i < 12; i++) deep = Files.createDirectory(deep.resolve("d" + i));
        Files.writeString(deep.resolve("leaf.txt"), "deep");
        Path many = Files.createDirectory(root.resolve("many"));
        for (int i = 0; i < 1500; i++) Files.writeString(many.resolve("entry-" + i + "-" + "x".repeat(i % 40)), "" + i);
        Files.writeString(root.resolve("unicode-\u00e9\u00e8\u4e2d\u6587-\uD83D\uDE00"), "u");
        Files.writeString(root.resolve("n".repeat(255)), "long name");
        Files.createSymbolicLink(root.resolve("link-rel"), Path.of("files/f100"));
        Files.createSymbolicLink(root.resolve("link-dangling"), Path.of("/nowhere/at/all"));
        Files.createSymbolicLink(root.resolve("link-long"), Path.of("x".repeat(1000)));
        Files.createLink(root.resolve("hardlink"), files.resolve("f4096"));
        Files.createLink(root.resolve("d0").resolve("hardlink-2"), files.resolve("f4096"));
        Files.setPosixFilePermissions(Files.createFile(root.resolve("mode-640")),
                PosixFilePermissions.fromString("rw-r-----"));
        UserDefinedFileAttributeView view = Files.getFileAttributeView(files.resolve("f100"),
                UserDefinedFileAttributeView.class);
        view.write("comment", ByteBuffer.wrap("hello xattr".getBytes()));
        view.write("empty", ByteBuffer.allocate(0));
        view.write("big", ByteBuffer.wrap(new byte[3000]));
        if (!asRoot) return;
        Path special = Files.createDirectory(root.resolve("special"));
        Shell.sh(String.join("\n",
                "mkfifo fifo",
                "mknod null-like c 1 3",
                "mknod loopish b 7 200",
                "mknod big-numbers c 300 70000",
                "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind(\"sock\")'",
                "echo owned > owned && chown 1234:5678 owned",
                "echo suid > suid && chmod 4755 suid",
                "echo sgid > sgid && chmod 2750 sgid",
                "mkdir sticky && chmod 1777 sticky",
                "echo x > xattrs && setfattr -n trusted.t -v 0x00ff00 xattrs && setfattr -n security.s -v sec xattrs",
                "setfattr -n user.u -v user xattrs"), special);
        Instant t = Instant.ofEpochSecond(1_000_000_000L, 123_456_789);
        Files.setLastModifiedTime(special.resolve("owned"), FileTime.from(t));
    }
}
