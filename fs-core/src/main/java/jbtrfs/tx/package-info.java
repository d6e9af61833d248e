/**
 * Transactions and their commit (≈ transaction.c, delayed-ref.c, extent-tree.c's reference updates, disk-io.c's
 * superblock writes).
 *
 * <p>{@link jbtrfs.tx.TransactionManager} owns the running {@link jbtrfs.tx.Transaction}: the tree blocks it copied or
 * created (the dirty blocks, as a {@link jbtrfs.ctree.TreeBlockStore}), the roots it moved, and the pending back
 * reference changes of tree blocks ({@code TreeRefs}) and data extents ({@link jbtrfs.tx.DataRefs}).
 * {@link jbtrfs.tx.Commit} is the commit: it settles the trees derived from the changes (extent items, block group
 * items, the free-space tree through {@code FreeSpaceTreeWriter}, the v1 caches through
 * {@code SpaceCacheWriter}, root items), writes the dirty block groups' caches and the tree blocks in two
 * stages and then the superblocks; a failure aborts ({@code AbortState}) and leaves the last commit on
 * disk. {@link jbtrfs.tx.TreeLog} holds the fsyncs' log trees between commits ({@code LogBlocks} their blocks,
 * never in the extent tree): {@code TransactionManager.sealLog} submits them under the write lock and
 * {@code awaitLog} flushes them after it ({@code LogSyncs} joins the syncs sealed meanwhile, as the kernel's
 * log_mutex does). {@code ChunkMaker} adds chunks, {@link jbtrfs.tx.CsumItems} edits the csum tree. What the commit
 * takes from the mount options comes in as {@link jbtrfs.tx.CommitSettings}.
 *
 * <p>Uses spacecache, alloc, ctree, volumes, format, csum, the device and the root package; never fs.
 */
package jbtrfs.tx;
