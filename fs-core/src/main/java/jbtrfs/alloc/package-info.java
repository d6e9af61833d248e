/**
 * Free space in memory: where new tree blocks and data extents go (≈ block-group.c and free-space-cache.c's
 * in-memory half, without their on-disk forms).
 *
 * <p>{@link jbtrfs.alloc.BlockGroups} loads every block group and derives its free ranges from the extent tree at
 * mount, allocates data and metadata, and makes a chunk through its chunk allocator (tx's ChunkMaker) when a type is
 * full. A {@link jbtrfs.alloc.BlockGroup} keeps its free ranges, its used bytes, and the ranges freed in the running
 * transaction, which stay pinned (unusable) until the commit that frees them on disk is written; it also remembers
 * whether the commit must write its block group item, free-space tree items and v1 cache again (dirty, or marked
 * for a full rewrite).
 *
 * <p>Uses ctree (to read the extent tree), volumes, format and the root package; nothing above it. The running
 * transaction owns it: not thread-safe.
 */
package jbtrfs.alloc;
