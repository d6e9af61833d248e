package jbtrfs.fuse.kernel;

import java.util.concurrent.atomic.AtomicInteger;

/** A test handler's bookkeeping: how often init and destroy ran, what INIT settled, the notifier. */
abstract class CountingHandler implements FuseHandler {
    final AtomicInteger inits = new AtomicInteger();
    final AtomicInteger destroys = new AtomicInteger();
    volatile FuseConnection connection;
    volatile FuseNotifier notifier;

    @Override
    public void init(FuseConnection c, FuseNotifier notifier) {
        connection = c;
        this.notifier = notifier;
        inits.incrementAndGet();
    }

    @Override
    public void destroy() {
        destroys.incrementAndGet();
    }
}
