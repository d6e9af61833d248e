package jbtrfs.compress;

import jbtrfs.format.Features;

/** The {@code compression} byte of a {@code btrfs_file_extent_item}. */
public enum CompressionType {
    NONE(0, "none"),
    ZLIB(1, "zlib"),
    LZO(2, "lzo"),
    ZSTD(3, "zstd");

    private static final CompressionType[] BY_CODE = {NONE, ZLIB, LZO, ZSTD};

    private final int code;
    private final String displayName;

    CompressionType(int code, String displayName) {
        this.code = code;
        this.displayName = displayName;
    }

    /** The incompat feature bit an image needs once it holds extents of this type (none for zlib). */
    public long incompatBit() {
        return this == LZO ? Features.INCOMPAT_COMPRESS_LZO
                : this == ZSTD ? Features.INCOMPAT_COMPRESS_ZSTD : 0;
    }

    /** The on-disk value. */
    public int code() { return code; }

    /** The name btrfs-progs and mount options use ("none", "zlib", "lzo", "zstd"). */
    public String displayName() { return displayName; }

    @Override
    public String toString() { return displayName; }

    /**
     * The type for an on-disk value; throws IllegalArgumentException for an unknown one (the tree checker rejects
     * those items before anyone decompresses them).
     */
    public static CompressionType fromCode(int code) {
        if (code < 0 || code >= BY_CODE.length) {
            throw new IllegalArgumentException("unknown compression type " + code);
        }
        return BY_CODE[code];
    }
}
