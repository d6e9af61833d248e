package jbtrfs.fuse.kernel;

import static jbtrfs.fuse.kernel.FakeChannel.frame;
import static jbtrfs.fuse.kernel.FakeChannel.initBody;
import static jbtrfs.fuse.kernel.FakeChannel.longs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/** The request loop over a scripted channel: framing, INIT, INTERRUPT, FORGET, DESTROY and errors. */
class RequestLoopTest {
    static final long ALL_FLAGS = 0xFFFF_FFFF_FFFF_FFFFL;

    private final FakeChannel channel = new FakeChannel();
    private final RecordingHandler handler = new RecordingHandler();
    private final AtomicInteger initialized = new AtomicInteger();
    private final List<String> fatal = new ArrayList<>();

    private RequestLoop loop(SessionOptions options) {
        Dispatcher d = new Dispatcher(handler, options, new ChannelNotifier(channel), new Interrupts(System::nanoTime),
                new OnceLog(), c -> initialized.incrementAndGet(), fatal::add);
        return new RequestLoop(channel, d, SessionOptions.MAX_WRITE);
    }

    /** Runs the loop until the script is used up (ENODEV). */
    private void runLoop(SessionOptions options) {
        RequestLoop l = loop(options);
        l.run();
        assertEquals(0, l.exitErrno(), "the loop ended on ENODEV, not an error");
    }

    private void init() {
        channel.request(frame(FuseAbi.INIT, 2, 0, initBody(45, 131072, ALL_FLAGS)));
    }

    /** The recorded reply {@code i}: [len, error, unique]. */
    private long[] header(int i) {
        ByteBuffer b = channel.writes.get(i);
        return new long[] {b.getInt(0), b.getInt(4), b.getLong(8)};
    }

    /** Reply {@code i} carries {@code error} (0 or a negative errno) under {@code unique}. */
    private void assertReply(int i, int error, long unique, String... why) {
        long[] h = header(i);
        assertEquals(error, h[1], String.join(" ", why));
        assertEquals(unique, h[2], "the unique of the request answered");
    }

    @Test
    void init_speaksKernelsMinor_andAsksTheBriefsFlags() {
        init();
        runLoop(SessionOptions.defaults());
        ByteBuffer out = channel.writes.get(0);
        assertEquals(FuseAbi.OUT_HEADER_SIZE + FuseAbi.INIT_OUT_SIZE, out.getInt(0));
        assertEquals(0, out.getInt(4));
        assertEquals(2, out.getLong(8));
        assertEquals(7, out.getInt(16));
        assertEquals(45, out.getInt(20));
        // the kernel offered its window of before Readahead raised it; it keeps the smaller of its own and this
        assertEquals(1 << 20, out.getInt(24), "our readahead, whatever the kernel offered");
        long flags = (out.getInt(28) & 0xFFFFFFFFL) | ((long) out.getInt(48) << 32);
        long want = FuseAbi.ASYNC_READ | FuseAbi.ATOMIC_O_TRUNC | FuseAbi.EXPORT_SUPPORT | FuseAbi.BIG_WRITES
                | FuseAbi.HAS_IOCTL_DIR | FuseAbi.DO_READDIRPLUS | FuseAbi.READDIRPLUS_AUTO | FuseAbi.PARALLEL_DIROPS
                | FuseAbi.MAX_PAGES | FuseAbi.CACHE_SYMLINKS | FuseAbi.HANDLE_KILLPRIV_V2 | FuseAbi.INIT_EXT
                | FuseAbi.WRITEBACK_CACHE;
        assertEquals(Long.toHexString(want), Long.toHexString(flags));
        assertEquals(64, out.getShort(32), "max_background");
        assertEquals(48, out.getShort(34), "congestion_threshold");
        assertEquals(1 << 20, out.getInt(36), "max_write");
        assertEquals(1, out.getInt(40), "time_gran");
        assertEquals(256, out.getShort(44), "max_pages");
        assertEquals(1, handler.inits.get());
        assertEquals(new FuseConnection(45, want, 1 << 20, 256), handler.connection);
        assertEquals(1, initialized.get());
    }

    @Test
    void init_ofNewerKernel_speaksOurs_andOptionsShapeFlags() {
        channel.request(frame(FuseAbi.INIT, 2, 0, initBody(50, 1 << 22, ALL_FLAGS)));
        runLoop(SessionOptions.defaults().withWritebackCache(false).withPosixAcl(true));
        ByteBuffer out = channel.writes.get(0);
        assertEquals(FuseAbi.KERNEL_MINOR_VERSION, out.getInt(20));
        assertEquals(1 << 20, out.getInt(24), "our readahead, smaller than the kernel's");
        assertFalse(handler.connection.granted(FuseAbi.WRITEBACK_CACHE));
        assertTrue(handler.connection.granted(FuseAbi.POSIX_ACL));
    }

    @Test
    void init_grantsOnlyWhatTheKernelOffers() {
        channel.request(frame(FuseAbi.INIT, 2, 0, initBody(40, 131072, FuseAbi.ASYNC_READ | FuseAbi.MAX_PAGES)));
        runLoop(SessionOptions.defaults());
        assertEquals(FuseAbi.ASYNC_READ | FuseAbi.MAX_PAGES, handler.connection.flags());
        assertEquals(40, handler.connection.minor());
    }

    @Test
    void init_ofTooOldKernel_isRefusedEproto_andEndsTheSession() {
        channel.request(frame(FuseAbi.INIT, 2, 0, initBody(31, 131072, ALL_FLAGS)));
        runLoop(SessionOptions.defaults());
        assertEquals(-FuseAbi.EPROTO, header(0)[1]);
        assertEquals(0, handler.inits.get());
        assertEquals(1, fatal.size());
        assertTrue(fatal.get(0).contains("7.31"), fatal.get(0));
    }

    @Test
    void requestBeforeInit_isAnsweredEio_andSecondInitToo() {
        channel.request(frame(FuseAbi.GETATTR, 10, 1, new byte[16]));
        init();
        channel.request(frame(FuseAbi.INIT, 12, 0, initBody(45, 131072, ALL_FLAGS)));
        runLoop(SessionOptions.defaults());
        assertReply(0, -FuseAbi.EIO, 10);
        assertReply(2, -FuseAbi.EIO, 12);
        assertTrue(handler.handled.isEmpty());
        assertEquals(1, handler.inits.get());
    }

    @Test
    void interrupt_beforeOrDuringItsRequest_isSeenByInterrupted_andForgottenAfter() {
        init();
        channel.request(frame(FuseAbi.INTERRUPT, 101, 0, longs(100)));
        channel.request(frame(FuseAbi.GETATTR, 100, 1, new byte[16]));
        channel.request(frame(FuseAbi.GETATTR, 102, 1, new byte[16]));
        channel.request(frame(FuseAbi.GETATTR, 100, 1, new byte[16]));
        RequestLoop l = loop(SessionOptions.defaults());
        l.run();
        assertEquals(List.of(true, false, false), handler.interruptedSeen,
                "the INTERRUPT counts for its request only, and is gone once that request is answered");
        assertEquals(4, channel.writes.size(), "INIT and three GETATTRs answered, not the INTERRUPT");
    }

    @Test
    void interrupts_ofAnsweredRequests_expire() {
        long[] now = {0};
        Interrupts i = new Interrupts(() -> now[0]);
        for (int u = 0; u < 64; u++) i.interrupt(u);
        now[0] = Interrupts.EXPIRY_NANOS + 1;
        i.interrupt(1000);
        assertEquals(1, i.size(), "the 64 stale ones went when the set grew");
        assertTrue(i.interrupted(1000));
        i.done(1000);
        assertFalse(i.interrupted(1000));
    }

    @Test
    void forgetAndBatchForget_reachHandler_andAreNeverAnswered() {
        init();
        channel.request(frame(FuseAbi.FORGET, 20, 7, longs(3)));
        ByteBuffer batch = ByteBuffer.allocate(8 + 32).order(ByteOrder.nativeOrder());
        batch.putInt(2).putInt(0).putLong(8).putLong(1).putLong(9).putLong(5);
        channel.request(frame(FuseAbi.BATCH_FORGET, 22, 0, batch.array()));
        runLoop(SessionOptions.defaults());
        assertEquals(List.of(7L, 8L, 9L), handler.forgotten);
        assertEquals(1, channel.writes.size(), "only INIT was answered");
    }

    @Test
    void destroy_callsHandlerOnce_andIsAnswered() {
        init();
        channel.request(frame(FuseAbi.DESTROY, 30, 0, new byte[0]));
        Dispatcher d = new Dispatcher(handler, SessionOptions.defaults(), new ChannelNotifier(channel),
                new Interrupts(System::nanoTime), new OnceLog(), c -> { }, fatal::add);
        new RequestLoop(channel, d, SessionOptions.MAX_WRITE).run();
        d.destroy();   // the session's end after DESTROY: no second call
        assertEquals(1, handler.destroys.get());
        assertReply(1, 0, 30);
    }

    @Test
    void handlerFailures_areAnsweredEioOrEinval_andTheLoopGoesOn() throws Exception {
        init();
        channel.request(frame(FuseAbi.GETATTR, 40, 1, new byte[16]));
        channel.request(frame(FuseAbi.LOOKUP, 42, 1, "no-nul".getBytes(StandardCharsets.US_ASCII)));
        RequestLoop l = loop(SessionOptions.defaults());
        handler.toThrow = new IllegalStateException("a bug");
        assertTrue(l.serveOne());
        assertTrue(l.serveOne());
        assertReply(1, -FuseAbi.EIO, 40);
        handler.toThrow = null;
        assertTrue(l.serveOne());
        assertReply(2, -FuseAbi.EINVAL, 42, "a name without its NUL");
        handler.leaveUnanswered = true;
        channel.request(frame(FuseAbi.GETATTR, 44, 1, new byte[16]));
        assertTrue(l.serveOne());
        assertReply(3, -FuseAbi.EIO, 44, "left unanswered");
        assertFalse(l.serveOne(), "ENODEV ends the loop");
    }

    @Test
    void readErrors_eintrAndEnoentRetry_enodevEnds_othersStopWithErrno() {
        init();
        channel.readError(FuseAbi.EINTR).readError(FuseAbi.EAGAIN).readError(FuseAbi.ENOENT);
        channel.request(frame(FuseAbi.GETATTR, 50, 1, new byte[16]));
        channel.readError(FuseAbi.EINVAL);
        RequestLoop l = loop(SessionOptions.defaults());
        l.run();
        assertEquals(FuseAbi.EINVAL, l.exitErrno());
        assertEquals(List.of(50L), handler.handled);
    }

    @Test
    void replyRefusedEnoent_meansInterrupted_andIsIgnored() throws Exception {
        init();
        channel.request(frame(FuseAbi.GETATTR, 60, 1, new byte[16]));
        channel.request(frame(FuseAbi.GETATTR, 62, 1, new byte[16]));
        RequestLoop l = loop(SessionOptions.defaults());
        assertTrue(l.serveOne());
        channel.writeErrors.add(FuseAbi.ENOENT);
        assertTrue(l.serveOne());
        assertTrue(l.serveOne());
        assertEquals(List.of(60L, 62L), handler.handled);
        assertEquals(62L, header(1)[2]);
    }

    @Test
    void readReplyBuffer_startsOnAPage_soTheDeviceReadsFileDataStraightIntoIt() {
        init();
        channel.request(frame(FuseAbi.READ, 70, 5, new byte[40]));
        channel.request(frame(FuseAbi.READ, 72, 5, new byte[40]));
        List<Long> misalignment = new ArrayList<>();
        CountingHandler reader = new CountingHandler() {
            @Override
            public void handle(FuseRequest r) {
                ByteBuffer b = r.replyBuffer(1 << 20);
                misalignment.add((long) b.alignmentOffset(b.position(), 4096));
                b.put((1 << 20) - 1, (byte) r.unique()).position(1 << 20);
                r.reply(b);
            }
        };
        Dispatcher d = new Dispatcher(reader, SessionOptions.defaults(), new ChannelNotifier(channel),
                new Interrupts(System::nanoTime), new OnceLog(), c -> { }, fatal::add);
        new RequestLoop(channel, d, SessionOptions.MAX_WRITE).run();
        // FileChannelBlockDevice.readBulk reads O_DIRECT into a page-aligned buffer; into any other through a copy
        assertEquals(List.of(0L, 0L), misalignment);
        assertEquals(FuseAbi.OUT_HEADER_SIZE + (1 << 20), header(2)[0], "the whole MiB was sent");
        assertEquals(72, channel.writes.get(2).get(FuseAbi.OUT_HEADER_SIZE + (1 << 20) - 1));
    }

    @Test
    void notifier_writesInvalInodeAndEntry_withUniqueZero() throws Exception {
        ChannelNotifier n = new ChannelNotifier(channel);
        n.invalInode(5, -1, 0);
        n.invalEntry(1, "a.txt".getBytes(StandardCharsets.US_ASCII));
        channel.writeErrors.add(FuseAbi.ENOENT);
        n.invalInode(6, 0, 0);   // nothing cached: not an error
        ByteBuffer a = channel.writes.get(0);
        assertEquals(List.of(40L, (long) FuseAbi.NOTIFY_INVAL_INODE, 0L, 5L, -1L, 0L),
                List.of((long) a.getInt(0), (long) a.getInt(4), a.getLong(8), a.getLong(16), a.getLong(24),
                        a.getLong(32)));
        ByteBuffer e = channel.writes.get(1);
        assertEquals(16 + 16 + 6, e.getInt(0));
        assertEquals(FuseAbi.NOTIFY_INVAL_ENTRY, e.getInt(4));
        assertEquals(1, e.getLong(16));
        assertEquals(5, e.getInt(24));
        assertEquals("a.txt\0", StandardCharsets.US_ASCII.decode(e.slice(32, 6)).toString());
        assertEquals(2, channel.writes.size());
    }

    @Test
    void session_startsClonesAfterInit_andDestroysOnceAtTheEnd() throws Exception {
        init();
        AtomicInteger unmounts = new AtomicInteger();
        KernelSession s = new KernelSession(channel, SessionOptions.defaults().withThreads(3),
                unmounts::incrementAndGet, "fake");
        s.serve(handler);
        assertEquals(0, s.await());
        assertEquals(2, channel.clones.get(), "one clone per worker after the first");
        assertEquals(1, handler.destroys.get());
        assertTrue(channel.closed);
        s.unmount();
        assertEquals(0, unmounts.get(), "the mount was gone already");
    }
}
