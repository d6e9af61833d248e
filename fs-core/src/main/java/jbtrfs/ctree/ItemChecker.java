package jbtrfs.ctree;

import java.nio.ByteBuffer;

import jbtrfs.csum.NameHash;
import jbtrfs.format.BlockGroupFlags;
import jbtrfs.format.BlockGroupItem;
import jbtrfs.format.ChunkItem;
import jbtrfs.format.DevExtent;
import jbtrfs.format.DevItem;
import jbtrfs.format.DirItem;
import jbtrfs.format.ExtentDataRef;
import jbtrfs.format.ExtentItem;
import jbtrfs.format.FileExtentItem;
import jbtrfs.format.InodeExtref;
import jbtrfs.format.InodeItem;
import jbtrfs.format.InodeRef;
import jbtrfs.format.Key;
import jbtrfs.format.KeyType;
import jbtrfs.format.ObjectIds;
import jbtrfs.format.RootItem;

/**
 * The item half of the tree checker (≈ the kernel's tree-checker.c check_leaf_item): the size and inner layout
 * each item type must have, so a leaf whose items we would misread is never written. Returns the problem, or null.
 * Rules only the whole filesystem can judge (back references, inode sizes against extents) are btrfs check's.
 */
final class ItemChecker {
    /** BTRFS_NAME_LEN: a directory entry's name is at most 255 bytes (an xattr's may be longer). */
    private static final int NAME_LEN = 255;
    private static final int S_IFMT = 0170000;
    /** BTRFS_FT_MAX: file types in dir items are below it. */
    private static final int FT_MAX = 9;
    /** BTRFS_COMPRESS_*: none, zlib, lzo, zstd. */
    private static final int COMPRESS_TYPES = 4;
    /** btrfs_root_ref: dirid u64, sequence u64, name_len u16, then the name. */
    private static final int ROOT_REF_SIZE = 18;
    /** btrfs_free_space_info: extent_count u32, flags u32. */
    private static final int FREE_SPACE_INFO_SIZE = 8;
    /** Offsets in btrfs_root_item of drop_level and level (after the 17-byte drop_progress key at 220). */
    private static final int ROOT_DROP_LEVEL = 237;
    private static final int ROOT_LEVEL = 238;
    private static final int MAX_LEVEL = 8;

    private ItemChecker() {
    }

    /**
     * Checks the item with {@code key} whose data is {@code size} bytes at {@code off} of leaf {@code b}; the
     * block belongs to transaction {@code transid}, so no generation inside it may be newer.
     */
    static String check(ByteBuffer b, Key key, int off, int size, int nodesize, int csumSize, long transid) {
        return switch (key.type()) {
            case KeyType.INODE_ITEM -> inodeItem(b, off, size, transid);
            case KeyType.INODE_REF -> names(b, off, size, InodeRef.SIZE_WITHOUT_NAME, 8, false, "inode ref");
            case KeyType.INODE_EXTREF -> names(b, off, size, InodeExtref.SIZE_WITHOUT_NAME, 16, false, "inode extref");
            case KeyType.DIR_ITEM, KeyType.DIR_INDEX, KeyType.XATTR_ITEM -> dirItems(b, key, off, size);
            case KeyType.EXTENT_DATA -> fileExtent(b, off, size);
            case KeyType.EXTENT_CSUM -> csumItem(key, size, csumSize);
            case KeyType.ROOT_ITEM -> rootItem(b, off, size, transid);
            case KeyType.ROOT_REF, KeyType.ROOT_BACKREF -> names(b, off, size, ROOT_REF_SIZE, 16, true, "root ref");
            case KeyType.EXTENT_ITEM, KeyType.METADATA_ITEM -> extentItem(b, key, off, size, nodesize);
            case KeyType.TREE_BLOCK_REF, KeyType.SHARED_BLOCK_REF, KeyType.ORPHAN_ITEM, KeyType.FREE_SPACE_EXTENT ->
                    exactSize(size, 0, key);
            case KeyType.EXTENT_DATA_REF -> exactSize(size, ExtentDataRef.SIZE, key);
            case KeyType.SHARED_DATA_REF -> exactSize(size, 4, key);
            case KeyType.FREE_SPACE_INFO -> exactSize(size, FREE_SPACE_INFO_SIZE, key);
            case KeyType.BLOCK_GROUP_ITEM -> blockGroupItem(b, key, off, size);
            case KeyType.CHUNK_ITEM -> chunkItem(b, off, size);
            case KeyType.DEV_ITEM -> devItem(b, key, off, size);
            case KeyType.DEV_EXTENT -> exactSize(size, DevExtent.SIZE, key);
            case KeyType.UUID_KEY_SUBVOL, KeyType.UUID_KEY_RECEIVED_SUBVOL ->
                    size == 0 || size % 8 != 0 ? "uuid item of " + size + " bytes, expected a multiple of 8" : null;
            default -> null;
        };
    }

    private static String exactSize(int size, int expected, Key key) {
        return size == expected ? null
                : "item size of " + KeyType.name(key.type()) + " is " + size + ", expected " + expected;
    }

    private static String inodeItem(ByteBuffer b, int off, int size, long transid) {
        if (size != InodeItem.SIZE) return "inode item size is " + size + ", expected " + InodeItem.SIZE;
        long generation = b.getLong(off);
        long itemTransid = b.getLong(off + 8);
        if (Long.compareUnsigned(generation, transid) > 0) {
            return "inode generation is " + Long.toUnsignedString(generation) + ", expected at most " + transid;
        }
        if (Long.compareUnsigned(itemTransid, transid) > 0) {
            return "inode transid is " + Long.toUnsignedString(itemTransid) + ", expected at most " + transid;
        }
        int mode = b.getInt(off + 52);
        int type = mode & S_IFMT;
        if (type != 0100000 && type != 0040000 && type != 0020000 && type != 0060000 && type != 0010000
                && type != 0140000 && type != 0120000) {
            return "inode mode is 0" + Integer.toOctalString(mode) + ", expected a file type in S_IFMT";
        }
        long nlink = Integer.toUnsignedLong(b.getInt(off + 40));
        if (type == 0040000 && nlink > 1) return "directory nlink is " + nlink + ", expected at most 1";
        return null;
    }

    /**
     * Items that pack entries of a fixed header ending in a u16 name_len and the name (inode refs, extrefs, root
     * refs): every name must end inside the item, and the last exactly at its end.
     */
    private static String names(ByteBuffer b, int off, int size, int header, int nameLenAt, boolean single,
                                String what) {
        if (size < header) return what + " of " + size + " bytes, expected at least " + header;
        int p = 0;
        while (p < size) {
            if (p + header > size) return what + " header at byte " + p + " ends past the item's " + size + " bytes";
            int nameLen = Short.toUnsignedInt(b.getShort(off + p + nameLenAt));
            if (p + header + nameLen > size) {
                return what + " name of " + nameLen + " bytes at byte " + p + " ends at " + (p + header + nameLen)
                        + ", expected at most " + size;
            }
            p += header + nameLen;
            if (single && p != size) {
                return what + " ends at " + p + ", expected " + size + " (one name per item)";
            }
        }
        return null;
    }

    private static String dirItems(ByteBuffer b, Key key, int off, int size) {
        boolean xattr = key.type() == KeyType.XATTR_ITEM;
        int p = 0;
        int count = 0;
        while (p < size) {
            if (p + DirItem.SIZE_WITHOUT_NAME > size) {
                return "dir item header at byte " + p + " ends past the item's " + size + " bytes";
            }
            int at = off + p;
            int dataLen = Short.toUnsignedInt(b.getShort(at + 25));
            int nameLen = Short.toUnsignedInt(b.getShort(at + 27));
            int type = Byte.toUnsignedInt(b.get(at + 29)) & 0x0f;
            if (type == DirItem.FT_UNKNOWN || type >= FT_MAX) {
                return "dir item type is " + type + ", expected 1 to " + (FT_MAX - 1);
            }
            if (xattr != (type == DirItem.FT_XATTR)) {
                return (xattr ? "xattr item type is " + type + ", expected " + DirItem.FT_XATTR
                        : "dir item type is " + DirItem.FT_XATTR + " (xattr), expected a file type");
            }
            int locType = Byte.toUnsignedInt(b.get(at + Key.OFFSET_TYPE));
            if (locType != 0 && locType != KeyType.INODE_ITEM && locType != KeyType.ROOT_ITEM) {
                return "dir item location key type is " + locType + ", expected INODE_ITEM or ROOT_ITEM";
            }
            if (!xattr && nameLen > NAME_LEN) return "dir item name_len is " + nameLen + ", expected at most " + NAME_LEN;
            int end = p + DirItem.SIZE_WITHOUT_NAME + nameLen + dataLen;
            if (end > size) {
                return "dir item name_len " + nameLen + " + data_len " + dataLen + " end at byte " + end
                        + ", expected at most " + size;
            }
            if (key.type() != KeyType.DIR_INDEX) {
                byte[] name = new byte[nameLen];
                b.get(at + DirItem.SIZE_WITHOUT_NAME, name);
                long hash = NameHash.of(name);
                if (hash != key.offset()) {
                    return "name hash is " + hash + ", expected the key offset " + Long.toUnsignedString(key.offset());
                }
            }
            p = end;
            count++;
        }
        if (key.type() == KeyType.DIR_INDEX && count != 1) return "dir index holds " + count + " entries, expected 1";
        return null;
    }

    private static String fileExtent(ByteBuffer b, int off, int size) {
        if (size < FileExtentItem.OFFSET_INLINE_DATA) {
            return "file extent item size is " + size + ", expected at least " + FileExtentItem.OFFSET_INLINE_DATA;
        }
        int type = Byte.toUnsignedInt(b.get(off + 20));
        int compression = Byte.toUnsignedInt(b.get(off + 16));
        if (type > FileExtentItem.TYPE_PREALLOC) return "file extent type is " + type + ", expected at most 2";
        if (compression >= COMPRESS_TYPES) return "file extent compression is " + compression + ", expected below 4";
        if (b.get(off + 17) != 0) return "file extent encryption is " + b.get(off + 17) + ", expected 0";
        if (b.getShort(off + 18) != 0) return "file extent other_encoding is " + b.getShort(off + 18) + ", expected 0";
        if (type == FileExtentItem.TYPE_INLINE) {
            long ram = b.getLong(off + 8);
            if (compression == 0 && ram != size - FileExtentItem.OFFSET_INLINE_DATA) {
                return "inline extent of " + (size - FileExtentItem.OFFSET_INLINE_DATA) + " data bytes, ram_bytes "
                        + Long.toUnsignedString(ram) + " (expected equal when uncompressed)";
            }
            return null;
        }
        if (size != FileExtentItem.SIZE_REGULAR) {
            return "file extent item size is " + size + ", expected " + FileExtentItem.SIZE_REGULAR;
        }
        if (type == FileExtentItem.TYPE_PREALLOC && compression != 0) {
            return "prealloc extent compression is " + compression + ", expected 0";
        }
        return null;
    }

    private static String csumItem(Key key, int size, int csumSize) {
        if (key.objectid() != ObjectIds.EXTENT_CSUM) {
            return "csum item objectid is " + key.objectid() + ", expected " + ObjectIds.EXTENT_CSUM;
        }
        if (size == 0 || size % csumSize != 0) {
            return "csum item size is " + size + ", expected a multiple of " + csumSize;
        }
        return null;
    }

    private static String rootItem(ByteBuffer b, int off, int size, long transid) {
        if (size != RootItem.SIZE && size != RootItem.SIZE_LEGACY) {
            return "root item size is " + size + ", expected " + RootItem.SIZE + " or " + RootItem.SIZE_LEGACY;
        }
        long generation = b.getLong(off + RootItem.OFFSET_GENERATION);
        if (Long.compareUnsigned(generation, transid) > 0) {
            return "root item generation is " + Long.toUnsignedString(generation) + ", expected at most " + transid;
        }
        int level = Byte.toUnsignedInt(b.get(off + ROOT_LEVEL));
        if (level >= MAX_LEVEL) return "root item level is " + level + ", expected below " + MAX_LEVEL;
        int dropLevel = Byte.toUnsignedInt(b.get(off + ROOT_DROP_LEVEL));
        if (dropLevel >= MAX_LEVEL) return "root item drop_level is " + dropLevel + ", expected below " + MAX_LEVEL;
        return null;
    }

    private static String extentItem(ByteBuffer b, Key key, int off, int size, int nodesize) {
        if (size < ExtentItem.SIZE) return "extent item size is " + size + ", expected at least " + ExtentItem.SIZE;
        long refs = b.getLong(off);
        long flags = b.getLong(off + 16);
        boolean data = (flags & ExtentItem.FLAG_DATA) != 0;
        boolean tree = (flags & ExtentItem.FLAG_TREE_BLOCK) != 0;
        if (data == tree) return "extent flags are 0x" + Long.toHexString(flags) + ", expected DATA or TREE_BLOCK";
        boolean metadata = key.type() == KeyType.METADATA_ITEM;
        if (metadata && !tree) return "metadata item flags are 0x" + Long.toHexString(flags) + ", expected TREE_BLOCK";
        if (metadata && Long.compareUnsigned(key.offset(), MAX_LEVEL) >= 0) {
            return "metadata item level is " + Long.toUnsignedString(key.offset()) + ", expected below " + MAX_LEVEL;
        }
        int p = ExtentItem.SIZE;
        if (tree && !metadata) {
            if (key.offset() != nodesize) {
                return "tree block extent length is " + Long.toUnsignedString(key.offset()) + ", expected " + nodesize;
            }
            p += ExtentItem.TREE_BLOCK_INFO_SIZE;
            if (p > size) return "extent item size is " + size + ", expected at least " + p + " for a tree block";
        }
        long inlineRefs = 0;
        while (p < size) {
            int type = Byte.toUnsignedInt(b.get(off + p));
            int len;
            long count = 1;
            if (type == KeyType.TREE_BLOCK_REF || type == KeyType.SHARED_BLOCK_REF) {
                if (!tree) return "inline ref type " + type + " at byte " + p + " in a data extent";
                len = 1 + 8;
            } else if (type == KeyType.EXTENT_DATA_REF || type == KeyType.SHARED_DATA_REF) {
                if (!data) return "inline ref type " + type + " at byte " + p + " in a tree block extent";
                len = type == KeyType.EXTENT_DATA_REF ? 1 + ExtentDataRef.SIZE : 1 + 8 + 4;
            } else {
                return "inline ref type is " + type + " at byte " + p + ", expected a back reference type";
            }
            if (p + len > size) {
                return "inline ref at byte " + p + " ends at " + (p + len) + ", expected at most " + size;
            }
            if (type == KeyType.EXTENT_DATA_REF) count = Integer.toUnsignedLong(b.getInt(off + p + 1 + 24));
            if (type == KeyType.SHARED_DATA_REF) count = Integer.toUnsignedLong(b.getInt(off + p + 9));
            inlineRefs += count;
            p += len;
        }
        if (Long.compareUnsigned(refs, inlineRefs) < 0) {
            return "extent refs is " + Long.toUnsignedString(refs) + ", expected at least the inline refs' "
                    + inlineRefs;
        }
        return null;
    }

    private static String blockGroupItem(ByteBuffer b, Key key, int off, int size) {
        if (size != BlockGroupItem.SIZE) return "block group item size is " + size + ", expected " + BlockGroupItem.SIZE;
        if (key.offset() == 0) return "block group length is 0";
        long used = b.getLong(off);
        if (Long.compareUnsigned(used, key.offset()) > 0) {
            return "block group used is " + Long.toUnsignedString(used) + ", expected at most its length "
                    + Long.toUnsignedString(key.offset());
        }
        long chunkObjectid = b.getLong(off + 8);
        if (chunkObjectid != ObjectIds.FIRST_CHUNK_TREE) {
            return "block group chunk_objectid is " + chunkObjectid + ", expected " + ObjectIds.FIRST_CHUNK_TREE;
        }
        long type = b.getLong(off + 16) & BlockGroupFlags.TYPE_MASK;
        if (type != BlockGroupFlags.DATA && type != BlockGroupFlags.METADATA && type != BlockGroupFlags.SYSTEM
                && type != (BlockGroupFlags.DATA | BlockGroupFlags.METADATA)) {
            return "block group type is 0x" + Long.toHexString(type) + ", expected one of DATA, METADATA, SYSTEM"
                    + " or mixed";
        }
        return null;
    }

    private static String chunkItem(ByteBuffer b, int off, int size) {
        if (size < ChunkItem.SIZE_WITHOUT_STRIPES) {
            return "chunk item size is " + size + ", expected at least " + ChunkItem.SIZE_WITHOUT_STRIPES;
        }
        int stripes = Short.toUnsignedInt(b.getShort(off + ChunkItem.OFFSET_NUM_STRIPES));
        if (stripes == 0) return "chunk num_stripes is 0";
        if (size != ChunkItem.size(stripes)) {
            return "chunk item size is " + size + ", expected " + ChunkItem.size(stripes) + " for " + stripes
                    + " stripes";
        }
        if (b.getLong(off) == 0) return "chunk length is 0";
        return null;
    }

    private static String devItem(ByteBuffer b, Key key, int off, int size) {
        if (size != DevItem.SIZE) return "dev item size is " + size + ", expected " + DevItem.SIZE;
        long devid = b.getLong(off);
        if (devid != key.offset()) {
            return "dev item devid is " + devid + ", expected the key offset " + Long.toUnsignedString(key.offset());
        }
        long total = b.getLong(off + 8);
        long used = b.getLong(off + DevItem.OFFSET_BYTES_USED);
        if (Long.compareUnsigned(used, total) > 0) {
            return "dev item bytes_used is " + Long.toUnsignedString(used) + ", expected at most total_bytes "
                    + Long.toUnsignedString(total);
        }
        return null;
    }
}
