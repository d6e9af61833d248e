package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every worker shares: answers INIT, INTERRUPT and DESTROY, refuses what cannot be served (before INIT, an
 * unknown opcode, a body shorter than its opcode's struct) and hands the rest to the {@link FuseHandler}, making
 * sure each request is answered exactly once whatever the handler does.
 */
final class Dispatcher {
    private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);

    private final FuseHandler handler;
    private final SessionOptions options;
    private final FuseNotifier notifier;
    private final Interrupts interrupts;
    private final OnceLog errors;
    private final Consumer<FuseConnection> onInit;
    private final Consumer<String> onFatal;
    private final AtomicBoolean destroyed = new AtomicBoolean();
    private volatile FuseConnection connection;
    private volatile Exception destroyFailure;

    /**
     * {@code onInit} runs once INIT is answered and the handler initialised (the session starts its other workers);
     * {@code onFatal} when the kernel cannot be served at all (the session unmounts).
     */
    Dispatcher(FuseHandler handler, SessionOptions options, FuseNotifier notifier, Interrupts interrupts,
               OnceLog errors, Consumer<FuseConnection> onInit, Consumer<String> onFatal) {
        this.handler = handler;
        this.options = options;
        this.notifier = notifier;
        this.interrupts = interrupts;
        this.errors = errors;
        this.onInit = onInit;
        this.onFatal = onFatal;
    }

    FuseConnection connection() {
        return connection;
    }

    Interrupts interrupts() {
        return interrupts;
    }

    OnceLog errors() {
        return errors;
    }

    /** Serves one framed request; never throws. */
    void dispatch(ChannelRequest request) {
        int opcode = request.opcode();
        try {
            if (opcode == FuseAbi.INIT) {
                init(request);
            } else if (connection == null) {
                errors.warn(LOG, "before-init", "opcode " + opcode + " arrived before INIT: EIO");
                request.fail(FuseAbi.EIO);
            } else if (FuseAbi.minBodySize(opcode) < 0) {
                request.fail(FuseAbi.ENOSYS);
            } else if (request.in().remaining() < FuseAbi.minBodySize(opcode)) {
                errors.warn(LOG, "short-" + opcode, "opcode " + opcode + " came with a body of "
                        + request.in().remaining() + " bytes, shorter than its struct: EINVAL");
                request.fail(FuseAbi.EINVAL);
            } else if (opcode == FuseAbi.INTERRUPT) {
                interrupts.interrupt(request.in().u64());
                request.noReply();
            } else if (opcode == FuseAbi.DESTROY) {
                destroy();
                request.reply();
            } else {
                handler.handle(request);
            }
        } catch (MalformedRequestException e) {
            errors.warn(LOG, "malformed-" + opcode, "opcode " + opcode + " malformed: " + e.getMessage());
            if (!request.answered()) request.fail(FuseAbi.EINVAL);
        } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
            errors.error(LOG, "handler-" + e.getClass().getName(), "serving opcode " + opcode + " failed", e);
            if (!request.answered()) request.fail(FuseAbi.EIO);
        } finally {
            if (!request.answered()) {
                if (!FuseAbi.noReply(opcode)) {
                    errors.warn(LOG, "unanswered-" + opcode, "the handler left opcode " + opcode + " unanswered: EIO");
                }
                request.fail(FuseAbi.EIO);
            }
            interrupts.done(request.unique());
        }
    }

    private synchronized void init(ChannelRequest request) {
        if (connection != null) {
            request.fail(FuseAbi.EIO);
            return;
        }
        ByteBuffer out = request.replyBuffer(FuseAbi.INIT_OUT_SIZE);
        FuseConnection settled;
        try {
            settled = InitReply.negotiate(request.in(), options, out);
        } catch (InitReply.Refused r) {
            LOG.error(r.getMessage());
            request.fail(r.errno);
            onFatal.accept(r.getMessage());
            return;
        }
        request.reply(out);
        LOG.info("FUSE 7.{} with the kernel: flags {}, max_write {}, max_pages {}", settled.minor(),
                Long.toHexString(settled.flags()), settled.maxWrite(), settled.maxPages());
        try {
            handler.init(settled, notifier);
        } catch (RuntimeException e) {
            LOG.error("the handler's init failed", e);
            onFatal.accept("the handler's init failed: " + e.getMessage());
            return;
        }
        connection = settled;
        onInit.accept(settled);
    }

    /** The handler's destroy, once, and only after its init; its failure is kept for {@link #destroyFailure}. */
    void destroy() {
        if (connection == null || !destroyed.compareAndSet(false, true)) return;
        try {
            handler.destroy();
        } catch (Exception e) {
            LOG.error("the handler's destroy failed", e);
            destroyFailure = e;
        }
    }

    Exception destroyFailure() {
        return destroyFailure;
    }
}
