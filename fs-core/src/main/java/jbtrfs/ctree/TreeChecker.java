package jbtrfs.ctree;

import java.nio.ByteBuffer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jbtrfs.CorruptBlockException;
import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.Key;
import jbtrfs.format.KeyPtr;
import jbtrfs.format.ObjectIds;

/**
 * Structural checks run on every tree block read (≈ the kernel's tree-checker): the header matches where the
 * block was found, and items, pointers and keys fit and are ordered. Returns the problem, or null.
 */
public final class TreeChecker {
    /** The slot a problem of {@link #check} names, when it names one. */
    private static final Pattern SLOT = Pattern.compile("^slot (\\d+) ");

    private TreeChecker() {
    }

    /**
     * The write-time check (≈ btrfs_check_leaf / btrfs_check_node before a block is written): the read-time
     * checks with this transaction's generation and the block's owner and level, then every item's size and inner
     * layout ({@link ItemChecker}) or every key pointer. A block that fails must not reach the device.
     */
    public static void checkBeforeWrite(ByteBuffer b, long bytenr, byte[] fsid, int nodesize, long transid,
                                        long owner, int level, int csumSize) throws CorruptBlockException {
        String problem = check(b, bytenr, fsid, nodesize, transid, level);
        if (problem != null) {
            Matcher m = SLOT.matcher(problem);
            throw new CorruptBlockException(owner, bytenr, m.find() ? Integer.parseInt(m.group(1)) : -1, problem);
        }
        long headerOwner = b.getLong(Header.OFFSET_OWNER);
        if (headerOwner != owner) {
            throw new CorruptBlockException(owner, bytenr, -1, "header owner is " + headerOwner + ", expected " + owner);
        }
        int nritems = b.getInt(Header.OFFSET_NRITEMS);
        if (level == 0 && nritems == 0 && (owner == ObjectIds.ROOT_TREE || owner == ObjectIds.CHUNK_TREE
                || owner == ObjectIds.DEV_TREE || owner == ObjectIds.FS_TREE)) {
            throw new CorruptBlockException(owner, bytenr, -1, "empty leaf, expected items (tree " + owner
                    + " is never empty)");
        }
        for (int slot = 0; slot < nritems; slot++) {
            if (level == 0) {
                int at = Header.SIZE + slot * Item.SIZE;
                int off = Header.SIZE + b.getInt(at + Item.OFFSET_DATA_OFFSET);
                int size = b.getInt(at + Item.OFFSET_DATA_SIZE);
                Key key = Key.read(b, at + Item.OFFSET_KEY);
                problem = ItemChecker.check(b, key, off, size, nodesize, csumSize, transid);
                if (problem != null) problem = "item " + key + ": " + problem;
            } else {
                int at = Header.SIZE + slot * KeyPtr.SIZE;
                long blockptr = b.getLong(at + KeyPtr.OFFSET_BLOCKPTR);
                long generation = b.getLong(at + KeyPtr.OFFSET_GENERATION);
                if (blockptr == 0) {
                    problem = "key pointer blockptr is 0";
                } else if (generation == 0 || Long.compareUnsigned(generation, transid) > 0) {
                    problem = "key pointer generation is " + Long.toUnsignedString(generation)
                            + ", expected 1.." + transid;
                }
            }
            if (problem != null) throw new CorruptBlockException(owner, bytenr, slot, problem);
        }
    }

    static String check(ByteBuffer b, long bytenr, byte[] fsid, int nodesize, long expectedGeneration,
                        int expectedLevel) {
        long headerBytenr = b.getLong(Header.OFFSET_BYTENR);
        if (headerBytenr != bytenr) {
            return "header bytenr is " + Long.toUnsignedString(headerBytenr) + ", expected " + Long.toUnsignedString(bytenr);
        }
        for (int i = 0; i < fsid.length; i++) {
            if (b.get(Header.OFFSET_FSID + i) != fsid[i]) return "fsid does not match the superblock's";
        }
        long generation = b.getLong(Header.OFFSET_GENERATION);
        if (expectedGeneration != 0 && generation != expectedGeneration) {
            return "generation is " + generation + ", expected " + expectedGeneration;
        }
        int level = Byte.toUnsignedInt(b.get(Header.OFFSET_LEVEL));
        if (expectedLevel >= 0 && level != expectedLevel) {
            return "level is " + level + ", expected " + expectedLevel;
        }
        if (level >= 8) return "level " + level + " is above the maximum of 7";
        long nritems = Integer.toUnsignedLong(b.getInt(Header.OFFSET_NRITEMS));
        int slotSize = level == 0 ? Item.SIZE : KeyPtr.SIZE;
        if (Header.SIZE + nritems * slotSize > nodesize) {
            return "nritems " + nritems + " does not fit a " + nodesize + "-byte block";
        }
        if (level > 0 && nritems == 0) return "node with no key pointers";
        long dataLimit = nodesize;
        for (int slot = 0; slot < nritems; slot++) {
            int keyOff = Header.SIZE + slot * slotSize;
            // keys compared where they lie: every block written is checked, so no Key is made per slot
            if (slot > 0 && compareKeys(b, keyOff - slotSize, keyOff) >= 0) {
                return "slot " + slot + " key " + Key.read(b, keyOff) + " is not above the previous key "
                        + Key.read(b, keyOff - slotSize);
            }
            if (level == 0) {
                long off = Integer.toUnsignedLong(b.getInt(keyOff + Item.OFFSET_DATA_OFFSET));
                long size = Integer.toUnsignedLong(b.getInt(keyOff + Item.OFFSET_DATA_SIZE));
                long start = Header.SIZE + off;
                // item data packs backwards from the end: each item ends where the previous began
                if (start + size != dataLimit) {
                    return "slot " + slot + " data ends at " + (start + size) + ", expected " + dataLimit;
                }
                if (start < Header.SIZE + nritems * Item.SIZE) {
                    return "slot " + slot + " data overlaps the item headers";
                }
                dataLimit = start;
            }
        }
        return null;
    }

    /** Orders the keys stored at {@code a} and {@code b} of one block as Key.compareTo does, without decoding. */
    private static int compareKeys(ByteBuffer buf, int a, int b) {
        int c = Long.compareUnsigned(buf.getLong(a + Key.OFFSET_OBJECTID), buf.getLong(b + Key.OFFSET_OBJECTID));
        if (c != 0) return c;
        c = Integer.compare(Byte.toUnsignedInt(buf.get(a + Key.OFFSET_TYPE)),
                Byte.toUnsignedInt(buf.get(b + Key.OFFSET_TYPE)));
        if (c != 0) return c;
        return Long.compareUnsigned(buf.getLong(a + Key.OFFSET_OFFSET), buf.getLong(b + Key.OFFSET_OFFSET));
    }
}
