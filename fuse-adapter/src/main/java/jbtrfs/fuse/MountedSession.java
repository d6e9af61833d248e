package jbtrfs.fuse;

/** A live FUSE mount being served, whichever transport serves it: what {@code jbtrfs mount} waits on and stops. */
interface MountedSession {
    /** Waits until the mount is gone and the session has ended; 0, or the negative errno that ended it. */
    int await() throws InterruptedException;

    /** Unmounts lazily, once; {@link #await} then returns. */
    void unmount();
}
