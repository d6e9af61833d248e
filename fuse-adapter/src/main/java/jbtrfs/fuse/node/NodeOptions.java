package jbtrfs.fuse.node;

import java.time.Duration;

/**
 * What the node layer is told at mount.
 *
 * @param entryTimeout    how long the kernel may keep a name without asking again
 * @param negativeTimeout how long the kernel may keep "no such name" (zero: not at all, every miss is ENOENT)
 * @param attrTimeout     how long the kernel may keep an inode's attributes without asking again
 * @param rawInodes       st_ino is the bare objectid, as the kernel's Btrfs shows it (subvolumes then repeat
 *                        numbers): for comparisons with the kernel; see {@link NodeIds}
 */
public record NodeOptions(Duration entryTimeout, Duration negativeTimeout, Duration attrTimeout, boolean rawInodes) {
    public NodeOptions {
        if (entryTimeout.isNegative() || negativeTimeout.isNegative() || attrTimeout.isNegative()) {
            throw new IllegalArgumentException("negative timeout");
        }
    }

    /** One second for names, misses and attributes, unique inode numbers. */
    public static NodeOptions defaults() {
        return new NodeOptions(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), false);
    }

    /**
     * The timeouts the libfuse path mounts with: every change of a name passes through the kernel, so names are kept
     * an hour and misses a minute; attributes an hour on a read-only mount (the image cannot change) and a second
     * otherwise.
     */
    public static NodeOptions forMount(boolean readOnly, boolean rawInodes) {
        return new NodeOptions(Duration.ofHours(1), Duration.ofMinutes(1),
                readOnly ? Duration.ofHours(1) : Duration.ofSeconds(1), rawInodes);
    }

    public NodeOptions withRawInodes(boolean raw) {
        return new NodeOptions(entryTimeout, negativeTimeout, attrTimeout, raw);
    }

    public NodeOptions withTimeouts(Duration entry, Duration negative, Duration attr) {
        return new NodeOptions(entry, negative, attr, rawInodes);
    }
}
