package jbtrfs.csum;

/** TEMPORARY STUB (lead's local copy until the codecs branch lands). */
public final class NameHash {
    private static final int[] T = new int[256];
    static {
        for (int i = 0; i < 256; i++) {
            int c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
            T[i] = c;
        }
    }
    private NameHash() { }
    static int raw(int crc, byte[] d) {
        for (byte x : d) crc = T[(crc ^ x) & 0xff] ^ (crc >>> 8);
        return crc;
    }
    public static long of(byte[] name) { return Integer.toUnsignedLong(raw(0xFFFFFFFE, name)); }
}
