package jbtrfs.fuse;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.types.size_t;
import ru.serce.jnrfuse.flags.FuseBufFlags;
import ru.serce.jnrfuse.struct.FuseBuf;

/**
 * A FUSE mount served by a fixed pool of Java threads, each looping on libfuse's receive/process calls.
 *
 * <p>Why not {@code fuse_main}: its worker threads are native, and jffi attaches a native thread to the JVM and
 * detaches it again around each of its first 1000 callbacks; every attach builds a new {@code java.lang.Thread}.
 * libfuse also retires workers when more than ten are idle, so a busy mount keeps paying that cost. Threads that
 * start in Java are attached for good, so here every request runs on a warm thread with a name.
 *
 * <p>Mounting and option parsing are libfuse's own ({@code fuse_setup}, as {@code fuse_main} does), so every FUSE
 * option behaves as usual. The session ends when the mount goes away (umount, fusermount -u): every worker's read of
 * /dev/fuse then fails with ENODEV.
 */
final class FuseSession implements MountedSession {
    private static final Logger LOG = LoggerFactory.getLogger(FuseSession.class);
    private static final int EINTR = 4;
    /** The most file data one read or write request carries (max_read, max_write); a worker's buffer holds one. */
    static final int MAX_DATA = 1 << 20;

    /** The parts of libfuse 2.9's API that fuse_main is made of. */
    public interface LibFuseLoop {
        Pointer fuse_setup(int argc, Pointer argv, Struct op, @size_t long opSize, PointerByReference mountpoint,
                           IntByReference multithreaded, Pointer userData);

        void fuse_teardown(Pointer fuse, Pointer mountpoint);

        Pointer fuse_get_session(Pointer fuse);

        Pointer fuse_session_next_chan(Pointer se, Pointer ch);

        @size_t long fuse_chan_bufsize(Pointer ch);

        int fuse_session_receive_buf(Pointer se, Pointer buf, Pointer chp);

        void fuse_session_process_buf(Pointer se, Pointer buf, Pointer ch);

        int fuse_session_exited(Pointer se);

        void fuse_session_exit(Pointer se);
    }

    private static volatile LibFuseLoop lib;
    private static volatile ReplyFilter.LibFuseChannel channelLib;

    private final Path mountpoint;
    private final Pointer fuse;
    private final Pointer mountpointC;
    private final Pointer session;
    private final Pointer channel;
    private final long bufsize;
    /** Every reply passes through it on its way to the kernel channel. */
    private final ReplyFilter replyFilter;
    private final List<Thread> workers = new ArrayList<>();
    private final CountDownLatch firstExit = new CountDownLatch(1);
    private final AtomicInteger error = new AtomicInteger();
    private final AtomicBoolean unmounted = new AtomicBoolean();
    /** Keeps the callbacks (and the closures libfuse points at) reachable while the mount lives. */
    @SuppressWarnings("unused")
    private final JbtrfsFuse callbacks;

    private FuseSession(JbtrfsFuse callbacks, Path mountpoint, Pointer fuse, Pointer mountpointC,
                        boolean readOnly, int readAheadKib) {
        this.callbacks = callbacks;
        this.mountpoint = mountpoint;
        this.fuse = fuse;
        this.mountpointC = mountpointC;
        this.session = lib.fuse_get_session(fuse);
        this.channel = lib.fuse_session_next_chan(session, null);
        long chanBufsize = lib.fuse_chan_bufsize(channel);
        this.bufsize = Math.max(chanBufsize, MAX_DATA + 4096);
        this.replyFilter = new ReplyFilter(channelLib(), channel, chanBufsize, MAX_DATA, readAheadKib << 10,
                !readOnly);
    }

    private static LibFuseLoop lib() {
        if (lib == null) {
            synchronized (FuseSession.class) {
                if (lib == null) lib = LibraryLoader.create(LibFuseLoop.class).failImmediately().load("fuse");
            }
        }
        return lib;
    }

    private static ReplyFilter.LibFuseChannel channelLib() {
        if (channelLib == null) {
            synchronized (FuseSession.class) {
                if (channelLib == null) {
                    channelLib = LibraryLoader.create(ReplyFilter.LibFuseChannel.class).failImmediately()
                            .load("fuse");
                }
            }
        }
        return channelLib;
    }

    /**
     * Mounts {@code callbacks} at {@code mountpoint} with FUSE arguments {@code fuseArgs} (e.g. "-o", "ro,...") and
     * starts {@code threads} workers. Returns once the mount is live. Replies pass through a
     * {@link ReplyFilter}, which filters attributes only where {@code readOnly} is false. The readahead window
     * ({@code readAheadKib}) is set before any worker answers the kernel's INIT, so no file is opened before it.
     */
    static FuseSession mount(JbtrfsFuse callbacks, Path mountpoint, List<String> fuseArgs, int threads,
                             boolean readOnly, int readAheadKib)
            throws IOException {
        List<String> argv = new ArrayList<>();
        argv.add("jbtrfs");
        argv.add("-f");   // fuse_setup must not daemonize: the process is the daemon already
        argv.addAll(fuseArgs);
        argv.add(mountpoint.toAbsolutePath().toString());
        Runtime rt = Runtime.getSystemRuntime();
        List<Pointer> strings = new ArrayList<>();
        Pointer argvC = cStrings(rt, argv, strings);
        PointerByReference mp = new PointerByReference();
        Struct ops = callbacks.nativeOperations();
        Pointer fuse = lib().fuse_setup(argv.size(), argvC, ops, Struct.size(ops), mp, new IntByReference(), null);
        // the strings' native memory goes when their Pointers are collected: not before libfuse has parsed them (a
        // collection during fuse_setup gave "fuse: unknown option" with garbage after a log replay's allocations)
        Reference.reachabilityFence(strings);
        Reference.reachabilityFence(argvC);
        if (fuse == null) {
            // libfuse has said why on stderr just before ("fuse: ...")
            throw new IOException("FUSE refused to mount " + mountpoint);
        }
        // the mount is in the table now, and every use of it waits for the INIT reply that the workers send
        Readahead.apply(mountpoint, readAheadKib);
        FuseSession s = new FuseSession(callbacks, mountpoint, fuse, mp.getValue(), readOnly, readAheadKib);
        s.start(Math.max(1, threads));
        return s;
    }

    /** A NULL-terminated char*[] of UTF-8 strings in native memory, each string's memory added to {@code keep}. */
    private static Pointer cStrings(Runtime rt, List<String> strings, List<Pointer> keep) {
        int ps = rt.addressSize();
        Pointer array = Memory.allocateDirect(rt, (long) (strings.size() + 1) * ps, true);
        for (int i = 0; i < strings.size(); i++) {
            byte[] b = strings.get(i).getBytes(StandardCharsets.UTF_8);
            Pointer s = Memory.allocateDirect(rt, b.length + 1, true);
            s.put(0, b, 0, b.length);
            array.putPointer((long) i * ps, s);
            keep.add(s);
        }
        return array;
    }

    private void start(int threads) {
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(this::work, "fuse-" + (i + 1));
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
        LOG.info("serving {} with {} FUSE threads", mountpoint, threads);
    }

    /** One worker: receive a request from /dev/fuse, let libfuse dispatch it to the callbacks, repeat. */
    private void work() {
        Runtime rt = Runtime.getSystemRuntime();
        Pointer data = Memory.allocateDirect(rt, bufsize);
        Pointer bufMem = Memory.allocateDirect(rt, 64, true);
        FuseBuf buf = FuseBuf.of(bufMem);
        Pointer chp = Memory.allocateDirect(rt, rt.addressSize(), true);
        try {
            while (lib.fuse_session_exited(session) == 0) {
                buf.size.set(bufsize);
                buf.flags.set(FuseBufFlags.NULL_VALUE);
                buf.mem.set(data);
                chp.putPointer(0, channel);
                int res = lib.fuse_session_receive_buf(session, bufMem, chp);
                if (res == -EINTR) continue;
                if (res <= 0) {
                    if (res < 0) {
                        error.compareAndSet(0, res);
                        lib.fuse_session_exit(session);
                    }
                    break;
                }
                boolean inMemory = (buf.flags.intValue() & FuseBufFlags.FUSE_BUF_IS_FD.intValue()) == 0;
                replyFilter.beforeDispatch(data, inMemory ? res : 0);
                lib.fuse_session_process_buf(session, bufMem, replyFilter.channel());
                replyFilter.afterDispatch();
            }
        } catch (Throwable t) {
            LOG.error("FUSE worker {} stopped", Thread.currentThread().getName(), t);
            error.compareAndSet(0, -1);
        } finally {
            firstExit.countDown();
        }
    }

    /**
     * Waits until the session ends (the mount is gone), then releases libfuse's side. Returns 0, or the negative
     * errno that ended it.
     */
    @Override
    public int await() throws InterruptedException {
        firstExit.await();
        // the mount normally went away and took every worker with it; after an error the others are still blocked
        // in a read of /dev/fuse, and only the unmount releases them
        if (error.get() != 0) unmount();
        for (Thread t : workers) {
            t.join(TimeUnit.SECONDS.toMillis(10));
            if (t.isAlive()) LOG.warn("FUSE worker {} did not stop", t.getName());
        }
        unmounted.set(true);   // gone already: a later unmount (the shutdown hook) has nothing to do
        lib.fuse_teardown(fuse, mountpointC);
        return error.get();
    }

    /** Unmounts lazily (as fusermount -u -z), once; the workers then end and {@link #await} returns. */
    @Override
    public void unmount() {
        if (!unmounted.compareAndSet(false, true)) return;
        Path fusermount = Fusermount.path();
        try {
            Process p = new ProcessBuilder(fusermount != null ? fusermount.toString() : "fusermount", "-u", "-z",
                    mountpoint.toAbsolutePath().toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor() != 0 && !out.isEmpty()) LOG.info("fusermount: {}", out);
        } catch (IOException e) {
            LOG.warn("could not unmount {}: {}", mountpoint, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
