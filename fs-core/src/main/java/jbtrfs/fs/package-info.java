/**
 * The filesystem as a Java API, by inode: what the FUSE adapter calls. {@link jbtrfs.fs.Filesystem#open} picks the
 * superblock, maps the chunks and checks the features ({@code WriteSupport} for read-write mounts);
 * {@link jbtrfs.fs.FsOperations} is the facade: {@code ReadOnlyOperations} over {@code Inodes}, {@code Directories},
 * {@code FileData} and {@code Xattrs} on a read-only mount, {@code WritableOperations} with {@code InodeWriter},
 * {@code NamespaceWriter}, {@code FileExtentWriter}, {@code XattrWriter} and {@code SetattrWriter} on a read-write one.
 * It may use every package below it: tx, spacecache, alloc, ctree, volumes, format, csum, compress, the root package
 * and the device.
 *
 * <h2>A write, from FUSE to the device</h2>
 * The adapter turns the request's path or node into an {@link jbtrfs.fs.InodeId} and calls
 * {@link jbtrfs.fs.FsOperations#write}. {@code WritableOperations} takes the change lock (one change or commit at a
 * time) and the write lock (readers wait), starts a transaction if none runs ({@code tx.TransactionManager.current})
 * and hands the bytes to {@code FileExtentWriter}. For a file past the inline size it reads the partial sectors at both
 * ends, allocates new extents from {@code alloc.BlockGroups} (data is copy-on-write too, unless nodatacow or
 * preallocated), reserves the metadata space the change needs (so that it never stops halfway), sends the bytes to
 * the device without waiting ({@code volumes.Volume.writeBehind}), cuts the overwritten range out of the old extents
 * and notes their back reference changes ({@code tx.DataRefs}), then puts the file extent items, the csum items and
 * the inode item through the transaction's {@code ctree.TreeEditor}. The editor copies every tree block on the path
 * from the root that this transaction has not copied yet to a newly allocated address and edits the copy: copied
 * and new blocks stay in memory as the transaction's dirty tree blocks, and the roots move in memory only. Nothing
 * on disk refers to any of it yet. The locks are dropped; reads see the running transaction's trees.
 *
 * <h2>A commit, from dirty trees to the superblock</h2>
 * A commit runs on sync and on an fsync the log cannot take ({@code FsyncLog} writes the others into the log
 * tree, {@code tx.TreeLog}), every {@code commit=} seconds, when the dirty tree blocks pass 64 MiB, when a
 * change needs the space the transaction freed, and at unmount. {@code tx.Commit} is its entry point;
 * {@code WritableOperations} holds the locks around its stages:
 * <ol>
 * <li>Settle (write lock): fold the transaction's changes into the trees derived from them (new chunks' items,
 *     data and tree block back references into extent items, block group items, the free-space tree or the v1
 *     cache inodes, root items), round after round until a round changes nothing: each edit may copy more blocks,
 *     which need extent items of their own.</li>
 * <li>The dirty block group writeout (v1 space cache only): with the file data written behind drained, the cache
 *     pages of every dirty block group go out in two stages, stage one submitting every group's pages without
 *     waiting, stage two reaping the completions; a group whose write failed has its cache marked invalid by
 *     another settle.</li>
 * <li>The next superblock is built from the settled trees (roots, generation, bytes used, backup roots).</li>
 * <li>Tree blocks (read lock: the write lock is downgraded, so reads go on while the change lock keeps changes
 *     out): the file data still in flight is drained, every dirty block passes the write-time tree checker, is
 *     marked WRITTEN and checksummed, and adjacent blocks go out as one write per copy; stage one submits them all,
 *     stage two reaps the completions.</li>
 * <li>Superblocks: flush, write every superblock copy inside the device, flush. Until the first copy lands the
 *     disk holds the previous commit, whose blocks were never overwritten.</li>
 * <li>Finish (write lock again): the new superblock is the committed one, the written blocks go to the block
 *     cache, the space this transaction freed (pinned until now) can be allocated, and the next change starts a
 *     new transaction.</li>
 * </ol>
 * A failure in any stage aborts: the transaction is dropped, the image keeps its last commit, the filesystem turns
 * read-only, and the caller gets the error.
 */
package jbtrfs.fs;
