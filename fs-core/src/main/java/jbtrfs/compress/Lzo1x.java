package jbtrfs.compress;

import java.util.Objects;

/**
 * Raw LZO1X block decompression, with the acceptance rules of the kernel's {@code lzo1x_decompress_safe}.
 *
 * <p>Written from the stream description in the kernel's Documentation/staging/lzo.rst. We do not use aircompressor's
 * LzoDecompressor (0.27): it accepts streams the kernel rejects (two blocks back to back, end markers of another
 * length), and it reads through Unsafe, so its memory safety rests on its own checks (CVE-2024-36114 was such a gap,
 * fixed in 0.27). Every access here is a bounds-checked array access, ~150 lines we can reason about.
 *
 * <p>The stream is a sequence of instructions; each match may be followed by 0..3 literals whose count ("state")
 * changes how the next 0000xxxx instruction reads. The stream ends with the instruction 0001H001 whose 14-bit
 * distance field and H bit are zero (bytes 11 00 00), and the input must end exactly there.
 */
final class Lzo1x {
    /** Bytes of output a 0001HLLL match reaches back at least (its distance origin). */
    private static final int M4_BASE = 16384;
    /** Distance origin of the 3-byte match a 0000DDSS instruction encodes after a literal run. */
    private static final int M1_AFTER_RUN_BASE = 2049;

    private Lzo1x() {}

    /** The output bound lzo1x_worst_compress gives for {@code n} input bytes: the largest valid segment. */
    static int worstCompress(int n) {
        return n + n / 16 + 64 + 3;
    }

    /**
     * Decompresses one LZO1X block {@code in[inOff, inOff+inLen)} into {@code out} from {@code outOff}, writing at most
     * {@code outMax} bytes; matches may reach back only to {@code outOff}. Returns the bytes written.
     */
    static int decompress(byte[] in, int inOff, int inLen, byte[] out, int outOff, int outMax)
            throws CorruptCompressedDataException {
        return new Decoder().decompress(in, inOff, inLen, out, outOff, outMax);
    }

    /**
     * The decoding state of one block. Not thread-safe: {@link Decompressor} keeps one per thread and reuses it, so
     * a segment costs no allocation.
     */
    static final class Decoder {
        private byte[] in;
        private int inStart;
        private int inEnd;
        private byte[] out;
        private int outStart;
        private int outEnd;
        private int ip;
        private int op;

        /** As {@link Lzo1x#decompress}. */
        int decompress(byte[] in, int inOff, int inLen, byte[] out, int outOff, int outMax)
                throws CorruptCompressedDataException {
            Objects.checkFromIndexSize(inOff, inLen, in.length);
            Objects.checkFromIndexSize(outOff, outMax, out.length);
            this.in = in;
            this.inStart = inOff;
            this.inEnd = inOff + inLen;
            this.out = out;
            this.outStart = outOff;
            this.outEnd = outOff + outMax;
            this.ip = inOff;
            this.op = outOff;
            try {
                return run();
            } finally {
                // Drop the references: a per-thread decoder must not keep the caller's arrays alive.
                this.in = null;
                this.out = null;
            }
        }

        private int run() throws CorruptCompressedDataException {
            // The shortest stream is the end marker alone.
            if (inEnd - inStart < 3) {
                throw error("block of " + (inEnd - inStart) + " bytes is shorter than an end marker");
            }
            // A first byte 17 in a stream of 5+ bytes announces a bitstream version (1 = LZO-RLE, never written
            // by Btrfs, which uses lzo1x_1_compress); version 0 is plain LZO1X.
            if (inEnd - inStart >= 5 && (in[ip] & 0xFF) == 17) {
                int version = in[ip + 1] & 0xFF;
                if (version != 0) {
                    throw error("LZO bitstream version " + version + " (LZO-RLE) is not used by Btrfs");
                }
                ip += 2;
            }
            int state = 0;
            // The first byte may start with a literal run, since the dictionary is still empty.
            int first = in[ip] & 0xFF;
            if (first > 17) {
                ip++;
                int count = first - 17;
                copyLiterals(count);
                state = count < 4 ? count : 4;
            }
            while (true) {
                int t = nextByte();
                int length;
                int distance;
                int trailing;
                if (t < 16) {
                    if (state == 0) {
                        // 0000LLLL: a literal run of 4 or more bytes.
                        long run = (t == 0 ? 15 + extendedLength() : t) + 3L;
                        copyLiterals(run);
                        state = 4;
                        continue;
                    }
                    int h = nextByte();
                    trailing = t & 3;
                    if (state != 4) {
                        // 0000DDSS HHHHHHHH after 1..3 literals: 2 bytes within 1 KiB.
                        length = 2;
                        distance = (h << 2) + (t >> 2) + 1;
                    } else {
                        // 0000DDSS HHHHHHHH after a literal run: 3 bytes at 2..3 KiB.
                        length = 3;
                        distance = (h << 2) + (t >> 2) + M1_AFTER_RUN_BASE;
                    }
                } else if (t >= 64) {
                    // 01LDDDSS or 1LLDDDSS HHHHHHHH: 3..8 bytes within 2 KiB.
                    int h = nextByte();
                    length = (t >> 5) + 1;
                    distance = (h << 3) + ((t >> 2) & 7) + 1;
                    trailing = t & 3;
                } else if (t >= 32) {
                    // 001LLLLL then LE16 DDDDDDDD DDDDDDSS: within 16 KiB.
                    long len = (t & 31) == 0 ? 31 + extendedLength() : t & 31;
                    length = checkedLength(len + 2);
                    int le = nextLe16();
                    distance = (le >>> 2) + 1;
                    trailing = le & 3;
                } else {
                    // 0001HLLL then LE16: 16..48 KiB, or the end marker when the distance is zero.
                    long len = (t & 7) == 0 ? 7 + extendedLength() : t & 7;
                    int le = nextLe16();
                    distance = ((t & 8) << 11) + (le >>> 2);
                    trailing = le & 3;
                    if (distance == 0) {
                        if (len + 2 != 3) {
                            throw error("end marker with length " + (len + 2) + " at input " + (ip - 3 - inStart));
                        }
                        if (ip != inEnd) {
                            throw error((inEnd - ip) + " bytes after the end marker");
                        }
                        return op - outStart;
                    }
                    length = checkedLength(len + 2);
                    distance += M4_BASE;
                }
                copyMatch(distance, length);
                state = trailing;
                copyLiterals(trailing);
            }
        }

        /** Reads the zero-byte-extended part of a length: 255 per zero byte plus the first non-zero byte. */
        private long extendedLength() throws CorruptCompressedDataException {
            long n = 0;
            int b;
            while ((b = nextByte()) == 0) {
                n += 255;
            }
            return n + b;
        }

        private int checkedLength(long len) throws CorruptCompressedDataException {
            if (len > outEnd - op) {
                throw error("match of " + len + " bytes overruns the output at " + (op - outStart));
            }
            return (int) len;
        }

        private int nextByte() throws CorruptCompressedDataException {
            if (ip >= inEnd) {
                throw error("input ends inside an instruction (no end marker)");
            }
            return in[ip++] & 0xFF;
        }

        private int nextLe16() throws CorruptCompressedDataException {
            if (inEnd - ip < 2) {
                throw error("input ends inside an instruction (no end marker)");
            }
            int v = (in[ip] & 0xFF) | (in[ip + 1] & 0xFF) << 8;
            ip += 2;
            return v;
        }

        private void copyLiterals(long count) throws CorruptCompressedDataException {
            if (count > inEnd - ip) {
                throw error("literal run of " + count + " bytes overruns the input at " + (ip - inStart));
            }
            if (count > outEnd - op) {
                throw error("literal run of " + count + " bytes overruns the output at " + (op - outStart));
            }
            int n = (int) count;
            System.arraycopy(in, ip, out, op, n);
            ip += n;
            op += n;
        }

        private void copyMatch(int distance, int length) throws CorruptCompressedDataException {
            if (distance > op - outStart) {
                throw error("match distance " + distance + " reaches before the output start at " + (op - outStart));
            }
            if (length > outEnd - op) {
                throw error("match of " + length + " bytes overruns the output at " + (op - outStart));
            }
            int from = op - distance;
            if (distance >= length) {
                System.arraycopy(out, from, out, op, length);
                op += length;
            } else {
                // Overlapping: each byte may be one this match just wrote (runs).
                for (int i = 0; i < length; i++) {
                    out[op++] = out[from++];
                }
            }
        }

        private CorruptCompressedDataException error(String problem) {
            return new CorruptCompressedDataException("corrupt LZO1X block: " + problem);
        }
    }
}
