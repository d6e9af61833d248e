package jbtrfs.compress;

/** btrfs_file_extent_item.compression: how an extent's bytes are compressed on disk. */
public enum CompressionType {
    NONE(0, "none"),
    ZLIB(1, "zlib"),
    LZO(2, "lzo"),
    ZSTD(3, "zstd");

    private final int code;
    private final String displayName;

    CompressionType(int code, String displayName) {
        this.code = code;
        this.displayName = displayName;
    }

    /** The value stored in file extent items. */
    public int code() { return code; }

    public String displayName() { return displayName; }

    /** The type stored as {@code code}; IllegalArgumentException for an unknown one. */
    public static CompressionType fromCode(int code) {
        for (CompressionType t : values()) {
            if (t.code == code) return t;
        }
        throw new IllegalArgumentException("unknown compression type " + code);
    }
}
