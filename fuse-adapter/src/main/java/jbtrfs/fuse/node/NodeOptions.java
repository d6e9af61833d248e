package jbtrfs.fuse.node;

import java.time.Duration;

/**
 * What the node layer is told at mount.
 *
 * @param entryTimeout how long the kernel may keep a name (found or not found) without asking again
 * @param attrTimeout  how long the kernel may keep an inode's attributes without asking again
 * @param rawInodes    st_ino is the bare objectid, as the kernel's Btrfs shows it (subvolumes then repeat numbers):
 *                     for comparisons with the kernel; see {@link NodeIds}
 */
public record NodeOptions(Duration entryTimeout, Duration attrTimeout, boolean rawInodes) {
    public NodeOptions {
        if (entryTimeout.isNegative() || attrTimeout.isNegative()) {
            throw new IllegalArgumentException("negative timeout");
        }
    }

    /** One second for names and attributes, unique inode numbers. */
    public static NodeOptions defaults() {
        return new NodeOptions(Duration.ofSeconds(1), Duration.ofSeconds(1), false);
    }

    public NodeOptions withRawInodes(boolean raw) {
        return new NodeOptions(entryTimeout, attrTimeout, raw);
    }

    public NodeOptions withTimeouts(Duration entry, Duration attr) {
        return new NodeOptions(entry, attr, rawInodes);
    }
}
