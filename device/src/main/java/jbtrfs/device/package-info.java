/**
 * Block I/O for jbtrfs: a file or block device with a bounded queue of asynchronous requests. Knows nothing
 * about Btrfs.
 *
 * <h2>Using it</h2>
 * {@link jbtrfs.device.BlockDevice#open} picks an engine ({@link jbtrfs.device.Backend}); the read path calls the
 * synchronous {@link jbtrfs.device.BlockDevice#read}. The commit path builds a list of
 * {@link jbtrfs.device.IoRequest}s (writes of every dirty block group cache and tree block), submits them as one
 * {@link jbtrfs.device.IoBatch}, does other work, then calls {@link jbtrfs.device.IoBatch#await()}, which throws
 * the first {@link jbtrfs.device.DeviceIoException} with every other failure suppressed on it. A flush request
 * makes durable what completed before it was submitted, so the order is: await the writes, then flush, then
 * write the superblock, then flush.
 *
 * <h2>Why futures</h2>
 * A reap call ({@code io_getevents}-style, min count and timeout) would make each caller own the completions of
 * everyone sharing the device; futures let many submitters share one queue and let the commit path wait for
 * exactly its own batch. Completion runs on the engine's thread, so a callback that submits the next request
 * (as {@code bench-device} does) keeps the disk queue full with no thread hand-off, which is how the AIO engine
 * matches fio's libaio IOPS.
 *
 * <h2>Engines</h2>
 * <ul>
 *   <li>{@link jbtrfs.device.AioBlockDevice}: Linux native AIO through jnr-ffi and libaio.so.1, O_DIRECT,
 *       fdatasync as IOCB_CMD_FDSYNC; buffered with one log line where the filesystem refuses O_DIRECT.</li>
 *   <li>{@link jbtrfs.device.FileChannelBlockDevice}: positional FileChannel I/O on up to 8 threads; portable.</li>
 *   <li>{@link jbtrfs.device.MemoryBlockDevice}: for tests, with a volatile write cache, a power cut that drops
 *       or tears unflushed writes at sector granularity under a seed, and {@link jbtrfs.device.FaultPlan}.</li>
 * </ul>
 *
 * <h2>The image lock</h2>
 * {@link jbtrfs.device.BlockDevice#openLocked} (what a mount uses) holds an {@link jbtrfs.device.ImageLock} until
 * the device closes: flock on a file, exclusive to write and shared to read, plus O_EXCL on a block device to
 * write; loop devices backed by the file and kernel mounts of the device count as holders. A conflict is an
 * {@link jbtrfs.device.ImageInUseException} whose one-line message names the holder.
 *
 * <h2>Meters</h2>
 * On the registry in {@link jbtrfs.device.DeviceOptions}, tagged backend and device: {@code jbtrfs.device.inflight}
 * (gauge), {@code jbtrfs.device.requests.submitted} / {@code .completed} and {@code jbtrfs.device.bytes} (by
 * type), {@code jbtrfs.device.latency} (timer, p50 and p99), {@code jbtrfs.device.batch.size} (summary),
 * {@code jbtrfs.device.errors} (by errno).
 */
package jbtrfs.device;
