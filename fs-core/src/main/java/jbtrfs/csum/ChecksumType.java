package jbtrfs.csum;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/** TEMPORARY STUB (lead's local copy until the codecs branch lands). */
public enum ChecksumType {
    CRC32C(0, 4, "crc32c"), XXHASH64(1, 8, "xxhash64"), SHA256(2, 32, "sha256"), BLAKE2B(3, 32, "blake2b");
    private final int code; private final int size; private final String displayName;
    ChecksumType(int code, int size, String n) { this.code = code; this.size = size; this.displayName = n; }
    public int code() { return code; }
    public int size() { return size; }
    public String displayName() { return displayName; }
    public static ChecksumType fromCode(int code) {
        for (ChecksumType t : values()) if (t.code == code) return t;
        throw new IllegalArgumentException("unknown checksum type " + code);
    }
    public void compute(ByteBuffer data, int offset, int length, byte[] out32) {
        if (this != CRC32C) throw new IllegalStateException("stub");
        CRC32C c = new CRC32C();
        c.update(data.duplicate().limit(offset + length).position(offset));
        int v = (int) c.getValue();
        Arrays.fill(out32, (byte) 0);
        out32[0] = (byte) v; out32[1] = (byte) (v >>> 8); out32[2] = (byte) (v >>> 16); out32[3] = (byte) (v >>> 24);
    }
    public boolean matches(ByteBuffer data, int offset, int length, ByteBuffer stored, int storedOffset) {
        byte[] out = new byte[32];
        compute(data, offset, length, out);
        for (int i = 0; i < size; i++) if (out[i] != stored.get(storedOffset + i)) return false;
        return true;
    }
}
