/**
 * Decompression of compressed file extents (zlib, LZO in Btrfs's segment framing, zstd).
 *
 * <p>{@link jbtrfs.compress.Decompressor#decompress} reads a regular extent's {@code disk_num_bytes} into
 * {@code ram_bytes}; {@link jbtrfs.compress.Decompressor#decompressInline} an inline payload. They follow the
 * kernel's fs/btrfs/{zlib,lzo,zstd}.c: what a stream must contain, where a short stream is zero-filled (regular
 * extents) or an error (inline ones), and that output past {@code ram_bytes} is dropped. Bad input raises
 * {@link jbtrfs.compress.CorruptCompressedDataException}. zlib uses the JDK's Inflater, zstd aircompressor's
 * decoder on exactly one frame ({@code ZstdFrame} finds its end), LZO1X our own decoder ({@code Lzo1x}).
 */
package jbtrfs.compress;
