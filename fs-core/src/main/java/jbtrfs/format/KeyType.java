package jbtrfs.format;

/** Item key types, with the kernel's values (include/uapi/linux/btrfs_tree.h). */
public final class KeyType {
    public static final int INODE_ITEM = 1;
    public static final int INODE_REF = 12;
    public static final int INODE_EXTREF = 13;
    public static final int XATTR_ITEM = 24;
    public static final int VERITY_DESC_ITEM = 36;
    public static final int VERITY_MERKLE_ITEM = 37;
    public static final int ORPHAN_ITEM = 48;
    public static final int DIR_LOG_ITEM = 60;
    public static final int DIR_LOG_INDEX = 72;
    public static final int DIR_ITEM = 84;
    public static final int DIR_INDEX = 96;
    public static final int EXTENT_DATA = 108;
    public static final int EXTENT_CSUM = 128;
    public static final int ROOT_ITEM = 132;
    public static final int ROOT_BACKREF = 144;
    public static final int ROOT_REF = 156;
    public static final int EXTENT_ITEM = 168;
    public static final int METADATA_ITEM = 169;
    public static final int TREE_BLOCK_REF = 176;
    public static final int EXTENT_DATA_REF = 178;
    public static final int SHARED_BLOCK_REF = 182;
    public static final int SHARED_DATA_REF = 184;
    public static final int BLOCK_GROUP_ITEM = 192;
    public static final int FREE_SPACE_INFO = 198;
    public static final int FREE_SPACE_EXTENT = 199;
    public static final int FREE_SPACE_BITMAP = 200;
    public static final int DEV_EXTENT = 204;
    public static final int DEV_ITEM = 216;
    public static final int CHUNK_ITEM = 228;
    public static final int QGROUP_STATUS = 240;
    public static final int QGROUP_INFO = 242;
    public static final int QGROUP_LIMIT = 244;
    public static final int QGROUP_RELATION = 246;
    public static final int TEMPORARY_ITEM = 248;
    public static final int PERSISTENT_ITEM = 249;
    public static final int DEV_REPLACE = 250;
    public static final int UUID_KEY_SUBVOL = 251;
    public static final int UUID_KEY_RECEIVED_SUBVOL = 252;
    public static final int STRING_ITEM = 253;

    private KeyType() {
    }

    /** The name dump-tree prints for a type, or its number. */
    public static String name(int type) {
        return switch (type) {
            case INODE_ITEM -> "INODE_ITEM";
            case INODE_REF -> "INODE_REF";
            case INODE_EXTREF -> "INODE_EXTREF";
            case XATTR_ITEM -> "XATTR_ITEM";
            case ORPHAN_ITEM -> "ORPHAN_ITEM";
            case DIR_ITEM -> "DIR_ITEM";
            case DIR_INDEX -> "DIR_INDEX";
            case EXTENT_DATA -> "EXTENT_DATA";
            case EXTENT_CSUM -> "EXTENT_CSUM";
            case ROOT_ITEM -> "ROOT_ITEM";
            case ROOT_BACKREF -> "ROOT_BACKREF";
            case ROOT_REF -> "ROOT_REF";
            case EXTENT_ITEM -> "EXTENT_ITEM";
            case METADATA_ITEM -> "METADATA_ITEM";
            case BLOCK_GROUP_ITEM -> "BLOCK_GROUP_ITEM";
            case FREE_SPACE_INFO -> "FREE_SPACE_INFO";
            case FREE_SPACE_EXTENT -> "FREE_SPACE_EXTENT";
            case FREE_SPACE_BITMAP -> "FREE_SPACE_BITMAP";
            case DEV_EXTENT -> "DEV_EXTENT";
            case DEV_ITEM -> "DEV_ITEM";
            case CHUNK_ITEM -> "CHUNK_ITEM";
            default -> Integer.toString(type);
        };
    }
}
