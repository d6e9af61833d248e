package jbtrfs.compress;

/** TEMPORARY STUB (lead's local copy until the codecs branch lands). */
public enum CompressionType {
    NONE(0), ZLIB(1), LZO(2), ZSTD(3);
    private final int code;
    CompressionType(int c) { code = c; }
    public int code() { return code; }
    public static CompressionType fromCode(int c) {
        for (CompressionType t : values()) if (t.code == c) return t;
        throw new IllegalArgumentException("unknown compression " + c);
    }
}
