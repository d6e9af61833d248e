/**
 * Checksums and hashes in Btrfs's byte layouts.
 *
 * <p>{@link jbtrfs.csum.ChecksumType} computes and verifies the superblock's {@code csum_type} algorithms (crc32c,
 * xxhash64, sha256, blake2b) over heap or direct buffers, thread-safely and without per-call allocation (except inside
 * BouncyCastle's BLAKE2b). {@link jbtrfs.csum.NameHash} gives the key offsets that are hashes: DIR_ITEM/XATTR_ITEM
 * names, INODE_EXTREF and EXTENT_DATA_REF, all built on the raw seeded {@link jbtrfs.csum.Crc32c}. Tests check every
 * value against images written by mkfs.btrfs and the kernel.
 */
package jbtrfs.csum;
