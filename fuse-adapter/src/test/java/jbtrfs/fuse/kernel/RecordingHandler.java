package jbtrfs.fuse.kernel;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A test handler that reads each request's struct and names through {@link InArgs} as a real one would, answers
 * 0, and records what it saw. Opcodes it does not read are ENOSYS.
 */
final class RecordingHandler extends CountingHandler {
    final List<Long> forgotten = new CopyOnWriteArrayList<>();
    final List<Long> handled = new CopyOnWriteArrayList<>();
    final List<Boolean> interruptedSeen = new CopyOnWriteArrayList<>();
    volatile RuntimeException toThrow;
    volatile boolean leaveUnanswered;

    @Override
    public void handle(FuseRequest r) {
        handled.add(r.unique());
        interruptedSeen.add(r.interrupted());
        if (toThrow != null) throw toThrow;
        if (leaveUnanswered) return;
        InArgs in = r.in();
        switch (r.opcode()) {
            case FuseAbi.FORGET -> {
                forgotten.add(r.nodeId());
                in.u64();
                r.noReply();
            }
            case FuseAbi.BATCH_FORGET -> {
                int count = in.u32();
                in.u32();
                for (int i = 0; i < count; i++) {
                    forgotten.add(in.u64());
                    in.u64();
                }
                r.noReply();
            }
            case FuseAbi.LOOKUP, FuseAbi.UNLINK, FuseAbi.RMDIR -> {
                in.cstring();
                r.reply();
            }
            case FuseAbi.MKDIR -> {
                in.skip(8);
                in.cstring();
                r.reply();
            }
            case FuseAbi.SYMLINK -> {
                in.cstring();
                in.cstring();
                r.reply();
            }
            case FuseAbi.GETATTR -> {
                in.u32();
                in.u32();
                in.u64();
                r.reply(r.replyBuffer(8).putLong(r.nodeId()));
            }
            case FuseAbi.WRITE -> {
                in.skip(16);
                int size = in.u32();
                in.skip(20);
                in.bytes(size);
                r.reply(r.replyBuffer(8).putInt(size).putInt(0));
            }
            default -> r.fail(FuseAbi.ENOSYS);
        }
    }
}
