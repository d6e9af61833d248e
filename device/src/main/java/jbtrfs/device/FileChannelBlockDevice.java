package jbtrfs.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Positional I/O on a {@link FileChannel}: portable, works on files and block devices alike. */
public final class FileChannelBlockDevice implements BlockDevice {
    private static final int LOGICAL_BLOCK_SIZE = 512;

    private final Path path;
    private final FileChannel channel;
    private final long size;

    private FileChannelBlockDevice(Path path, FileChannel channel, long size) {
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    /** Opens {@code path}; a block device's size is found by seeking to its end, which works where size() says 0. */
    public static FileChannelBlockDevice open(Path path, boolean writable) throws IOException {
        FileChannel ch = writable
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size == 0 && !Files.isRegularFile(path)) {
                size = blockDeviceSize(path);
            }
            return new FileChannelBlockDevice(path, ch, size);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static long blockDeviceSize(Path path) throws IOException {
        try (var raf = new java.io.RandomAccessFile(path.toFile(), "r")) {
            return raf.length();
        }
    }

    @Override
    public long size() { return size; }

    @Override
    public int logicalBlockSize() { return LOGICAL_BLOCK_SIZE; }

    @Override
    public boolean directIo() { return false; }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (offset < 0 || offset + length > size) {
            throw new DeviceIoException("read past the end of " + path + " (size " + size + ")", offset, length, 0);
        }
        long pos = offset;
        while (dst.hasRemaining()) {
            int n;
            try {
                n = channel.read(dst, pos);
            } catch (IOException e) {
                throw new DeviceIoException("read failed on " + path + ": " + e.getMessage(), offset, length, 5, e);
            }
            if (n < 0) {
                throw new DeviceIoException("short read on " + path, offset, length, 0);
            }
            pos += n;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
