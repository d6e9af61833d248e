package jbtrfs.format;

import java.nio.ByteBuffer;
import java.util.HexFormat;

/** Reads 16-byte UUIDs as the canonical text btrfs-progs prints. */
public final class Uuids {
    public static final int SIZE = 16;

    private Uuids() {
    }

    /** The 16 bytes at {@code offset}. */
    public static byte[] read(ByteBuffer b, int offset) {
        byte[] u = new byte[SIZE];
        b.get(offset, u);
        return u;
    }

    /** xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, bytes in stored order. */
    public static String format(byte[] u) {
        String h = HexFormat.of().formatHex(u);
        return h.substring(0, 8) + "-" + h.substring(8, 12) + "-" + h.substring(12, 16) + "-" + h.substring(16, 20)
                + "-" + h.substring(20);
    }
}
