package jbtrfs.compress;

import java.nio.ByteBuffer;
import jbtrfs.csum.ChecksumType;

/**
 * Throughput of checksums and decompression on one thread (a benchmark command, not a test):
 * {@code java -cp fs-core/target/classes:fs-core/target/test-classes:DEPS jbtrfs.compress.CodecBench}.
 */
public final class CodecBench {
    /** Consumes results so the JIT cannot drop the work. */
    static volatile int sink;

    private CodecBench() {}

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 2.0;
        // 1 MiB of blocks, walked in turn, so every call checksums different memory.
        byte[] blocks = KernelCompressedExtentsTest.random(1 << 20, 1);
        ByteBuffer heap = ByteBuffer.wrap(blocks);
        ByteBuffer direct = ByteBuffer.allocateDirect(blocks.length).put(blocks).flip();
        byte[] out = new byte[32];
        int[] at = {0};
        for (ChecksumType type : ChecksumType.values()) {
            for (ByteBuffer buf : new ByteBuffer[] {heap, direct}) {
                for (int size : new int[] {4096, 16384}) {
                    long bytes = run(seconds, () -> {
                        at[0] = (at[0] + size) & ((1 << 20) - size);
                        type.compute(buf, at[0], size, out);
                        sink ^= out[0];
                    }, size);
                    System.out.printf("csum %-8s %-6s %5d B blocks: %7.0f MB/s%n", type, buf.isDirect() ? "direct"
                            : "heap", size, bytes / seconds / 1e6);
                }
            }
        }
        // Text of random words (about 3:1), as KernelCompressedExtentsTest writes through the kernel.
        byte[] data = KernelCompressedExtentsTest.text(128 * 1024, 1);
        byte[][] inputs = {DecompressorRoundTripTest.zlib(data),
            DecompressorRoundTripTest.btrfsLzo(data, 4096), DecompressorRoundTripTest.zstd(data)};
        CompressionType[] types = {CompressionType.ZLIB, CompressionType.LZO, CompressionType.ZSTD};
        byte[] dst = new byte[data.length];
        for (int i = 0; i < types.length; i++) {
            CompressionType type = types[i];
            ByteBuffer src = DecompressorRoundTripTest.onDisk(inputs[i]);
            long bytes = run(seconds, () -> Decompressor.decompress(type, src, dst, dst.length, 4096), dst.length);
            sink ^= dst[i];
            System.out.printf("decompress %-4s 128 KiB extent (%6d B on disk): %6.0f MB/s of output%n", type,
                    src.remaining(), bytes / seconds / 1e6);
        }
    }

    interface Op {
        void run() throws Exception;
    }

    /** Warms up for a second, then runs {@code op} for {@code seconds}; returns the bytes processed. */
    private static long run(double seconds, Op op, int bytesPerOp) throws Exception {
        long warmEnd = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < warmEnd) {
            op.run();
        }
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long n = 0;
        while (System.nanoTime() < end) {
            op.run();
            n++;
        }
        return n * bytesPerOp;
    }
}
