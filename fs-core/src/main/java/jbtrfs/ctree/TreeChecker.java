package jbtrfs.ctree;

import java.nio.ByteBuffer;

import jbtrfs.format.Header;
import jbtrfs.format.Item;
import jbtrfs.format.Key;
import jbtrfs.format.KeyPtr;

/**
 * Structural checks run on every tree block read (≈ the kernel's tree-checker): the header matches where the
 * block was found, and items, pointers and keys fit and are ordered. Returns the problem, or null.
 */
final class TreeChecker {
    private TreeChecker() {
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
        Key prev = null;
        long dataLimit = nodesize;
        for (int slot = 0; slot < nritems; slot++) {
            int keyOff = Header.SIZE + slot * slotSize;
            Key key = Key.read(b, keyOff);
            if (prev != null && prev.compareTo(key) >= 0) {
                return "slot " + slot + " key " + key + " is not above the previous key " + prev;
            }
            prev = key;
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
}
