package jbtrfs.format;

/**
 * An item's bytes contradict its format (a length past its item, an unknown type, a count that cannot be): what a
 * decoder here throws. It does not know where the item lies, so whoever read it turns it into a
 * {@link jbtrfs.CorruptBlockException} naming tree, block and slot ({@code Cursor.decode}), or into a one-line
 * refusal at open; it must never reach a caller of fs-core.
 */
public final class MalformedItemException extends IllegalArgumentException {
    public MalformedItemException(String message) {
        super(message);
    }
}
