package jbtrfs.volumes;

/**
 * RAID5/RAID6 parity over the data stripes of one full stripe (same offset in each): P is the XOR of the data, Q the
 * Reed-Solomon syndrome sum(g^i * D_i) over GF(2^8) with generator g = 2 and polynomial 0x11d (as the kernel's
 * lib/raid6). Recovery: one data stripe from P, one from Q (when P is lost too), two from P and Q.
 */
public final class Parity {
    private static final int[] EXP = new int[512];
    private static final int[] LOG = new int[256];

    static {
        int x = 1;
        for (int i = 0; i < 255; i++) {
            EXP[i] = x;
            LOG[x] = i;
            x <<= 1;
            if ((x & 0x100) != 0) x ^= 0x11d;
        }
        // doubled so a sum of two logs indexes without a modulo
        for (int i = 255; i < EXP.length; i++) EXP[i] = EXP[i - 255];
    }

    private Parity() {
    }

    /** a * b in GF(2^8). */
    static int mul(int a, int b) {
        if (a == 0 || b == 0) return 0;
        return EXP[LOG[a] + LOG[b]];
    }

    /** a / b in GF(2^8), b non-zero. */
    static int div(int a, int b) {
        if (a == 0) return 0;
        return EXP[LOG[a] + 255 - LOG[b]];
    }

    /** g^i. */
    static int pow2(int i) {
        return EXP[i % 255];
    }

    /** P: the XOR of the data stripes. */
    public static byte[] p(byte[][] data) {
        byte[] p = new byte[data[0].length];
        for (byte[] d : data) xorInto(p, d);
        return p;
    }

    /** Q: sum of g^i * D_i, computed by Horner's rule from the last stripe down. */
    public static byte[] q(byte[][] data) {
        int n = data[0].length;
        byte[] q = new byte[n];
        for (int i = data.length - 1; i >= 0; i--) {
            byte[] d = data[i];
            for (int k = 0; k < n; k++) q[k] = (byte) (mul(q[k] & 0xff, 2) ^ (d[k] & 0xff));
        }
        return q;
    }

    /** Data stripe {@code x} (null in {@code data}) from P and the other data stripes. */
    public static byte[] fromP(byte[][] data, byte[] p, int x) {
        byte[] out = p.clone();
        for (int i = 0; i < data.length; i++) {
            if (i != x) xorInto(out, data[i]);
        }
        return out;
    }

    /** Data stripe {@code x} (null in {@code data}) from Q and the other data stripes: Q' / g^x. */
    public static byte[] fromQ(byte[][] data, byte[] q, int x) {
        byte[] rest = q.clone();
        xorInto(rest, partialQ(data, x, -1, q.length));
        int gx = pow2(x);
        for (int k = 0; k < rest.length; k++) rest[k] = (byte) div(rest[k] & 0xff, gx);
        return rest;
    }

    /**
     * Data stripes {@code x} and {@code y} (both null in {@code data}, x != y) from P, Q and the others: with
     * Pxy = D_x + D_y and Qxy = g^x D_x + g^y D_y, D_x = (Qxy + g^y Pxy) / (g^x + g^y) and D_y = Pxy + D_x.
     * Returns {D_x, D_y}.
     */
    public static byte[][] fromPQ(byte[][] data, byte[] p, byte[] q, int x, int y) {
        byte[] pxy = p.clone();
        for (int i = 0; i < data.length; i++) {
            if (i != x && i != y) xorInto(pxy, data[i]);
        }
        byte[] qxy = q.clone();
        xorInto(qxy, partialQ(data, x, y, q.length));
        int gx = pow2(x);
        int gy = pow2(y);
        int denominator = gx ^ gy;
        byte[] dx = new byte[p.length];
        byte[] dy = new byte[p.length];
        for (int k = 0; k < p.length; k++) {
            int pk = pxy[k] & 0xff;
            int v = div((qxy[k] & 0xff) ^ mul(gy, pk), denominator);
            dx[k] = (byte) v;
            dy[k] = (byte) (pk ^ v);
        }
        return new byte[][] {dx, dy};
    }

    /** Q over the data stripes but {@code skipA} and {@code skipB} (taken as zero), {@code length} bytes each. */
    private static byte[] partialQ(byte[][] data, int skipA, int skipB, int length) {
        byte[] q = new byte[length];
        for (int i = data.length - 1; i >= 0; i--) {
            byte[] d = i == skipA || i == skipB ? null : data[i];
            for (int k = 0; k < length; k++) {
                q[k] = (byte) (mul(q[k] & 0xff, 2) ^ (d == null ? 0 : d[k] & 0xff));
            }
        }
        return q;
    }

    static void xorInto(byte[] dst, byte[] src) {
        for (int k = 0; k < dst.length; k++) dst[k] ^= src[k];
    }
}
