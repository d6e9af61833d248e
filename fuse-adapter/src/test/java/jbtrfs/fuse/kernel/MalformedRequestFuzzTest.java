package jbtrfs.fuse.kernel;

import static jbtrfs.fuse.kernel.FakeChannel.frame;
import static jbtrfs.fuse.kernel.FakeChannel.initBody;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;

/**
 * Malformed requests fed to one worker through a scripted channel: short reads, headers whose len disagrees with
 * the read, bodies shorter than their opcode's struct, unknown opcodes, names without their NUL, writes claiming
 * more data than came, extensions past the end, and garbage. Each is answered EINVAL, ENOSYS or EIO under its own
 * unique (or, like FORGET, not at all), and the worker serves a good request after all of them.
 */
class MalformedRequestFuzzTest {
    private static final Set<Long> REFUSALS = Set.of((long) -FuseAbi.EINVAL, (long) -FuseAbi.ENOSYS,
            (long) -FuseAbi.EIO, 0L);

    /** One fuzzed request and whether the kernel would wait for an answer to it. */
    private record Sent(long unique, boolean answered, boolean mustBeRefused) {
    }

    @Test
    void malformedRequests_areAnsweredUnderTheirUnique_andTheWorkerLivesOn() {
        Random random = new Random(17);
        FakeChannel channel = new FakeChannel();
        RecordingHandler handler = new RecordingHandler();
        channel.request(frame(FuseAbi.INIT, 1, 0, initBody(45, 131072, -1L)));
        List<Sent> sent = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            long unique = 1000 + 2L * i;
            byte[] bytes = fuzz(random, unique);
            channel.request(bytes);
            int opcode = bytes.length >= 8 ? ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getInt(4) : -1;
            boolean answered = bytes.length >= 16 && !FuseAbi.noReply(opcode);
            sent.add(new Sent(unique, answered, !wellFramed(bytes)));
        }
        long good = 99_999_998L;
        channel.request(frame(FuseAbi.GETATTR, good, 5, new byte[16]));
        Dispatcher d = new Dispatcher(handler, SessionOptions.defaults(), new ChannelNotifier(channel),
                new Interrupts(System::nanoTime), new OnceLog(), c -> { }, why -> { });
        RequestLoop loop = new RequestLoop(channel, d, SessionOptions.MAX_WRITE);
        loop.run();
        assertEquals(0, loop.exitErrno(), "the worker ran until the channel was gone");

        List<ByteBuffer> replies = channel.writes.subList(1, channel.writes.size());
        int r = 0;
        for (Sent s : sent) {
            if (!s.answered()) continue;
            ByteBuffer reply = replies.get(r++);
            assertEquals(s.unique(), reply.getLong(8), "replies come in order, each under its request's unique");
            long error = reply.getInt(4);
            assertTrue(REFUSALS.contains(error), "unexpected error " + error);
            if (s.mustBeRefused()) assertTrue(error < 0, "a request that cannot be framed was answered " + error);
            assertEquals(reply.remaining(), reply.getInt(0), "the reply's len is what was written");
        }
        ByteBuffer last = replies.get(r++);
        assertEquals(good, last.getLong(8));
        assertEquals(0, last.getInt(4), "a good request after the garbage is served");
        assertEquals(5, last.getLong(16));
        assertEquals(replies.size(), r, "no request was answered twice");
    }

    /** Whether the header's len matches and the extensions fit: else the answer must be EINVAL. */
    private static boolean wellFramed(byte[] b) {
        if (b.length < FuseAbi.IN_HEADER_SIZE) return false;
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
        return h.getInt(0) == b.length && Short.toUnsignedInt(h.getShort(36)) * 8 <= b.length - 40;
    }

    /** One malformed request of a random kind, its unique at offset 8 when it is long enough to have one. */
    private static byte[] fuzz(Random random, long unique) {
        int opcode = randomOpcode(random);
        byte[] out;
        switch (random.nextInt(8)) {
            case 0 -> {                                      // garbage of any length, maybe shorter than a header
                out = new byte[random.nextInt(64)];
                random.nextBytes(out);
            }
            case 1 -> {                                      // len says more than came
                byte[] body = new byte[random.nextInt(64)];
                out = frame(FuseAbi.IN_HEADER_SIZE + body.length + 1 + random.nextInt(1 << 20), opcode, unique, 1,
                        body);
            }
            case 2 -> {                                      // len says less than came, or nonsense
                byte[] body = new byte[1 + random.nextInt(64)];
                out = frame(random.nextBoolean() ? random.nextInt(FuseAbi.IN_HEADER_SIZE + body.length)
                        : random.nextInt(), opcode, unique, 1, body);
            }
            case 3 -> {                                      // a body shorter than the opcode's struct
                int min = Math.max(1, FuseAbi.minBodySize(opcode));
                out = frame(opcode, unique, 1, new byte[random.nextInt(min)]);
            }
            case 4 -> {                                      // an opcode nobody knows
                int bad = random.nextBoolean() ? 54 + random.nextInt(4000) : -random.nextInt(1000) - 1;
                out = frame(bad, unique, 1, new byte[random.nextInt(100)]);
            }
            case 5 -> {                                      // a name without its NUL
                byte[] name = new byte[1 + random.nextInt(300)];
                for (int i = 0; i < name.length; i++) name[i] = (byte) ('a' + random.nextInt(26));
                int op = new int[] {FuseAbi.LOOKUP, FuseAbi.UNLINK, FuseAbi.RMDIR, FuseAbi.SYMLINK}[random.nextInt(4)];
                out = frame(op, unique, 1, name);
            }
            case 6 -> {                                      // a write claiming more data than it carries
                ByteBuffer body = ByteBuffer.allocate(40 + random.nextInt(100)).order(ByteOrder.nativeOrder());
                body.putLong(0).putLong(0).putInt(body.capacity() - 40 + 1 + random.nextInt(1 << 20));
                out = frame(FuseAbi.WRITE, unique, 1, body.array());
            }
            default -> {                                     // extensions said to run past the end
                out = frame(opcode, unique, 1, new byte[random.nextInt(64)]);
                ByteBuffer.wrap(out).order(ByteOrder.nativeOrder()).putShort(36,
                        (short) (1 + (out.length - 40) / 8 + random.nextInt(100)));
            }
        }
        if (out.length >= 16) ByteBuffer.wrap(out).order(ByteOrder.nativeOrder()).putLong(8, unique);
        return out;
    }

    /** Any opcode but INIT and DESTROY, whose answers are not refusals. */
    private static int randomOpcode(Random random) {
        int op;
        do {
            op = 1 + random.nextInt(FuseAbi.COPY_FILE_RANGE_64);
        } while (op == FuseAbi.INIT || op == FuseAbi.DESTROY);
        return op;
    }
}
