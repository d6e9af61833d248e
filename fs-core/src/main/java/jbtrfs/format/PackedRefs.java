package jbtrfs.format;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The walk INODE_REF and INODE_EXTREF items share: refs packed one after another, each a fixed part whose u16
 * name_len says how many name bytes follow it. A name running past the item is refused, not read.
 */
final class PackedRefs {
    /** Builds one ref from the fixed part at {@code at} and its name. */
    interface Ref<T> {
        T read(ByteBuffer b, int at, byte[] name);
    }

    private PackedRefs() {
    }

    /**
     * All refs in the item at {@code offset} of {@code size} bytes; each has {@code fixed} bytes before its name and
     * its name_len at {@code nameLenAt}; {@code what} names the struct in the refusal.
     */
    static <T> List<T> readAll(ByteBuffer b, int offset, int size, int fixed, int nameLenAt, String what, Ref<T> ref) {
        List<T> out = new ArrayList<>(1);
        int end = offset + size;
        int p = offset;
        while (p + fixed <= end) {
            int nameLen = Short.toUnsignedInt(b.getShort(p + nameLenAt));
            if (p + fixed + nameLen > end) {
                throw new MalformedItemException(what + " name of " + nameLen + " bytes overruns its item");
            }
            byte[] name = new byte[nameLen];
            b.get(p + fixed, name);
            out.add(ref.read(b, p, name));
            p += fixed + nameLen;
        }
        return out;
    }
}
