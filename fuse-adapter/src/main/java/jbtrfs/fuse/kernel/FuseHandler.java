package jbtrfs.fuse.kernel;

/**
 * What the session hands requests to. The session answers INIT, INTERRUPT, DESTROY's framing and malformed
 * requests itself; every other opcode reaches {@link #handle}, on one of several worker threads at once.
 */
public interface FuseHandler {
    /** Called once, after INIT was answered and before any other request; {@code notifier} may be kept. */
    void init(FuseConnection connection, FuseNotifier notifier);

    /**
     * Serves one request: must end in exactly one of the request's reply calls (or {@link FuseRequest#noReply} for
     * FORGET and BATCH_FORGET). A {@link MalformedRequestException} thrown here is answered EINVAL; any other
     * exception EIO (logged once per kind); the worker carries on either way.
     */
    void handle(FuseRequest request) throws Exception;

    /** DESTROY, or the end of the session: the last call; it commits. Its failure makes the unmount fail. */
    void destroy() throws Exception;
}
