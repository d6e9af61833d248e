package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A request body read front to back, as the kernel laid it out (native order, structs padded to 8 bytes). Every
 * read is checked against the body's end: a short body throws {@link MalformedRequestException}, never reads past.
 */
public final class InArgs {
    private final ByteBuffer body;

    /** Reads {@code body} from its position to its limit; the buffer is not copied. */
    public InArgs(ByteBuffer body) {
        this.body = body.slice().order(ByteOrder.nativeOrder());
    }

    public int remaining() {
        return body.remaining();
    }

    public int u32() {
        need(4);
        return body.getInt();
    }

    public long u64() {
        need(8);
        return body.getLong();
    }

    public void skip(int n) {
        need(n);
        body.position(body.position() + n);
    }

    /** The next {@code n} bytes as a view (a write's data): not copied. */
    public ByteBuffer bytes(int n) {
        need(n);
        ByteBuffer view = body.slice().limit(n).order(ByteOrder.nativeOrder());
        body.position(body.position() + n);
        return view;
    }

    /** A NUL-terminated string's bytes, the NUL consumed and not returned. */
    public byte[] cstringBytes() {
        int start = body.position();
        for (int i = start; i < body.limit(); i++) {
            if (body.get(i) == 0) {
                byte[] out = new byte[i - start];
                body.get(out);
                body.get();
                return out;
            }
        }
        throw new MalformedRequestException("string without its NUL");
    }

    /** A NUL-terminated string (a name, a symlink target, an xattr name), decoded as UTF-8. */
    public String cstring() {
        return new String(cstringBytes(), StandardCharsets.UTF_8);
    }

    private void need(int n) {
        if (n < 0 || n > body.remaining()) {
            throw new MalformedRequestException("body ends " + body.remaining() + " bytes on, " + n + " wanted");
        }
    }
}
