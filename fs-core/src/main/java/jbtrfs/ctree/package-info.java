/**
 * B-trees: reading them and changing them copy-on-write (≈ ctree.c, extent_io.c's extent_buffer, tree-checker.c).
 *
 * <p>{@link jbtrfs.ctree.TreeBlockReader} reads a tree block by logical address, trying every copy until one passes
 * its checksum and the {@link jbtrfs.ctree.TreeChecker} (with {@code ItemChecker} for item layouts),
 * and caches the immutable {@link jbtrfs.ctree.TreeBlock}. A {@link jbtrfs.ctree.BTree} is one tree as of a root
 * pointer; each search makes its own {@link jbtrfs.ctree.Cursor}, so reads need no lock. The write side is
 * {@link jbtrfs.ctree.TreeEditor}: insert, put and delete on a {@link jbtrfs.ctree.TreeRoot}, copying every block on
 * the path that the transaction has not copied yet, splitting and merging; it finds and puts blocks through a
 * {@link jbtrfs.ctree.TreeBlockStore}, which the transaction implements.
 *
 * <p>Uses format, csum and volumes (and the root package's exceptions); nothing above it: it knows no transaction,
 * allocator or filesystem.
 */
package jbtrfs.ctree;
