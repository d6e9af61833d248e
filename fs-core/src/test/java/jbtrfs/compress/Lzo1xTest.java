package jbtrfs.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.airlift.compress.lzo.LzoCompressor;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Hand-assembled LZO1X streams, one instruction form at a time (as described in the kernel's
 * Documentation/staging/lzo.rst), with the expected output built by a separate model of the same instructions.
 */
class Lzo1xTest {
    /** An assembler for streams plus a model of what they decode to. */
    static final class Stream {
        final ByteArrayOutputStream code = new ByteArrayOutputStream();
        final ByteArrayOutputStream plain = new ByteArrayOutputStream();

        Stream op(int... bytes) {
            for (int b : bytes) {
                code.write(b);
            }
            return this;
        }

        Stream literals(byte[] lit) {
            code.write(lit, 0, lit.length);
            plain.write(lit, 0, lit.length);
            return this;
        }

        Stream expectMatch(int distance, int length) {
            byte[] sofar = plain.toByteArray();
            byte[] all = Arrays.copyOf(sofar, sofar.length + length);
            for (int i = 0; i < length; i++) {
                all[sofar.length + i] = all[sofar.length - distance + i];
            }
            plain.write(all, sofar.length, length);
            return this;
        }

        Stream end() {
            return op(0x11, 0x00, 0x00);
        }

        byte[] decode(int outMax) throws CorruptCompressedDataException {
            byte[] in = code.toByteArray();
            byte[] out = new byte[outMax + 10];
            int n = Lzo1x.decompress(in, 0, in.length, out, 5, outMax);
            return Arrays.copyOfRange(out, 5, 5 + n);
        }
    }

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A 0000LLLL literal run of {@code n >= 19} bytes in state 0 (length = 18 + 255 * zeros + last byte). */
    static void longRun(Stream s, byte[] lit) {
        int rest = lit.length - 18;
        s.op(0x00);
        while (rest > 255) {
            s.op(0x00);
            rest -= 255;
        }
        s.op(rest);
        s.literals(lit);
    }

    @Test
    void firstByteLiterals_thenShortMatch() throws Exception {
        // 20 = 17 + 3: three literals, state 3; then 0000DDSS H: 2 bytes at distance (H << 2) + D + 1 = 3.
        Stream s = new Stream().op(20).literals("abc".getBytes()).op(0x08, 0x00).expectMatch(3, 2).end();
        assertArrayEquals("abcab".getBytes(), s.decode(100));
    }

    @Test
    void everyMatchForm_decodesToTheInput() throws Exception {
        Stream s = new Stream();
        longRun(s, bytes(2100, 1)); // state 4 after a run
        // 0000DDSS H after a run: 3 bytes at (H << 2) + D + 2049 = 12*4 + 3 + 2049 = 2100; then 2 literals.
        s.op((3 << 2) | 2, 12).expectMatch(2100, 3).literals("XY".getBytes());
        // 01LDDDSS H: 3 + L = 4 bytes at (H << 3) + D + 1 = 8 + 1 + 1 = 10; no literals.
        s.op(0b01_1_001_00, 1).expectMatch(10, 4);
        // 1LLDDDSS H: 5 + L = 8 bytes at 12*8 + 3 + 1 = 100; one literal.
        s.op(0b1_11_011_01, 12).expectMatch(100, 8).literals("Z".getBytes());
        // 001LLLLL with extended length 31 + 7 + 2 = 40, LE16 distance 1999 + 1 = 2000.
        s.op(0x20, 7, (1999 << 2) & 0xFF, (1999 << 2) >>> 8).expectMatch(2000, 40);
        // 0000LLLL in state 0: a short literal run of 3 + 5 = 8 bytes.
        s.op(0x05).literals(bytes(8, 2));
        s.end();
        assertArrayEquals(s.plain.toByteArray(), s.decode(10_000));
    }

    @Test
    void m4Match_instruction0x11_isAMatchUnlessTheDistanceIsZero() throws Exception {
        // 0x11 = 0001 H=0 LLL=1: a 3-byte match at 16384 + D, the end marker only when D is zero. Segments of
        // 64 KiB sectors can hold such matches.
        Stream s = new Stream();
        longRun(s, bytes(17_000, 3));
        s.op(0x11, (516 << 2) & 0xFF, (516 << 2) >>> 8).expectMatch(16_384 + 516, 3);
        // 0001 H=1 LLL=0 with extended length 7 + 10 + 2 = 19 at 32768 + D needs more history: another run
        // (state 0 after a match without trailing literals).
        longRun(s, bytes(20_000, 5));
        int le16 = (100 << 2) | 1;
        s.op(0x18, 10, le16 & 0xFF, le16 >>> 8).expectMatch(32_768 + 100, 19).literals("!".getBytes());
        s.end();
        assertArrayEquals(s.plain.toByteArray(), s.decode(100_000));
    }

    @Test
    void overlappingMatch_repeatsARun() throws Exception {
        // distance 1, length 8: the byte repeats (LZ77 runs copy what they just wrote).
        Stream s = new Stream().op(18).literals("q".getBytes()).op(0b1_11_000_00, 0).expectMatch(1, 8).end();
        assertArrayEquals("qqqqqqqqq".getBytes(), s.decode(100));
    }

    @Test
    void corruptStreams_throw() {
        // distance 10 with only 3 bytes of history
        assertThrows(CorruptCompressedDataException.class,
                () -> new Stream().op(20).literals("abc".getBytes()).op(0x24, 0x00).end().decode(100));
        // no end marker
        assertThrows(CorruptCompressedDataException.class,
                () -> new Stream().op(20).literals("abc".getBytes()).decode(100));
        // bytes after the end marker
        assertThrows(CorruptCompressedDataException.class,
                () -> new Stream().op(20).literals("abc".getBytes()).end().op(0).decode(100));
        // end marker with a length other than 3
        assertThrows(CorruptCompressedDataException.class,
                () -> new Stream().op(20).literals("abc".getBytes()).op(0x12, 0, 0).decode(100));
        // output larger than allowed
        assertThrows(CorruptCompressedDataException.class,
                () -> new Stream().op(20).literals("abc".getBytes()).op(0x08, 0x00).end().decode(4));
        // literal run past the input
        assertThrows(CorruptCompressedDataException.class, () -> new Stream().op(30, 1, 2, 3).decode(100));
        // LZO-RLE bitstream (version 1), which Btrfs never writes
        assertThrows(CorruptCompressedDataException.class,
                () -> new Stream().op(17, 1, 20).literals("abc".getBytes()).end().decode(100));
        // shorter than an end marker
        assertThrows(CorruptCompressedDataException.class, () -> new Stream().op(0x11, 0).decode(100));
    }

    @Test
    void independentCompressor_roundTrips() throws Exception {
        LzoCompressor c = new LzoCompressor();
        Random r = new Random(6);
        for (int n : new int[] {1, 2, 3, 4, 17, 100, 4096, 65536}) {
            byte[] plain = new byte[n];
            for (int i = 0; i < n; i++) {
                plain[i] = (byte) (i % 7 == 0 ? r.nextInt() : 'a' + (i / 13) % 5);
            }
            byte[] comp = new byte[c.maxCompressedLength(n)];
            int len = c.compress(plain, 0, n, comp, 0, comp.length);
            byte[] out = new byte[n];
            assertEquals(n, Lzo1x.decompress(comp, 0, len, out, 0, n), "length " + n);
            assertArrayEquals(plain, out, "length " + n);
        }
    }
}
