/**
 * The FUSE kernel protocol spoken over /dev/fuse, with no libfuse in between: mounting (mount(2) as root,
 * fusermount3 otherwise), INIT, the worker threads on cloned channels, framing of requests and replies, INTERRUPT
 * and notifications; with {@code -o io_uring}, FUSE over io_uring ({@link jbtrfs.fuse.kernel.FuseUring}: a ring per
 * serving thread, requests framed in the ring entry's buffers) beside /dev/fuse, which keeps INIT, FORGET and
 * INTERRUPT. It knows nothing of Btrfs: what a request means is the node layer's ({@code jbtrfs.fuse.node}),
 * which it reaches through {@link jbtrfs.fuse.kernel.FuseHandler}, as go-fuse keeps its raw protocol apart from its
 * node API.
 */
package jbtrfs.fuse.kernel;
