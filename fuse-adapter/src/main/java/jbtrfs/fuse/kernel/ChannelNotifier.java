package jbtrfs.fuse.kernel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Notifications written to the session's channel: fuse_out_header with unique 0 and the notify code as error. */
final class ChannelNotifier implements FuseNotifier {
    /** The longest name the kernel takes (FUSE_NAME_MAX). */
    private static final int NAME_MAX = 1024;

    private final FuseChannel channel;

    ChannelNotifier(FuseChannel channel) {
        this.channel = channel;
    }

    @Override
    public void invalInode(long nodeId, long offset, long length) throws IOException {
        ByteBuffer body = direct(24).putLong(nodeId).putLong(offset).putLong(length).flip();
        send(FuseAbi.NOTIFY_INVAL_INODE, body);
    }

    @Override
    public void invalEntry(long parent, byte[] name) throws IOException {
        if (name.length == 0 || name.length > NAME_MAX) {
            throw new IllegalArgumentException("a name of " + name.length + " bytes cannot be invalidated");
        }
        ByteBuffer body = direct(16 + name.length + 1).putLong(parent).putInt(name.length).putInt(0).put(name)
                .put((byte) 0).flip();
        send(FuseAbi.NOTIFY_INVAL_ENTRY, body);
    }

    @Override
    public void prune(long nodeId) throws IOException {
        // fuse_notify_prune_out: count, padding, spare; then count node ids
        ByteBuffer body = direct(16 + 8).putInt(1).putInt(0).putLong(0).putLong(nodeId).flip();
        send(FuseAbi.NOTIFY_PRUNE, body);
    }

    private void send(int code, ByteBuffer body) throws IOException {
        ByteBuffer header = direct(FuseAbi.OUT_HEADER_SIZE).putInt(FuseAbi.OUT_HEADER_SIZE + body.remaining())
                .putInt(code).putLong(0).flip();
        try {
            channel.write(header, body);
        } catch (ChannelException e) {
            // ENOENT: the kernel holds no such inode or name, so there was nothing to drop
            if (e.errno() != FuseAbi.ENOENT) throw e;
        }
    }

    private static ByteBuffer direct(int size) {
        return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
    }
}
