package jbtrfs.fuse.kernel;

import java.io.IOException;

/**
 * Unsolicited messages to the kernel. Never call these from inside the request whose change they announce (the
 * kernel may be holding the locks that request took): hand them to another thread.
 */
public interface FuseNotifier {
    /** FUSE_NOTIFY_INVAL_INODE: drop cached attributes and the page cache of {@code [offset, offset+length)}
     * ({@code length} 0: to the end; {@code offset} negative: attributes only). */
    void invalInode(long nodeId, long offset, long length) throws IOException;

    /** FUSE_NOTIFY_INVAL_ENTRY: drop the cached name {@code name} in directory {@code parent}. */
    void invalEntry(long parent, byte[] name) throws IOException;

    /**
     * FUSE_NOTIFY_PRUNE (7.45): the kernel drops its inode of {@code nodeId} if nothing uses it (no open file, no
     * dentry in use), so that the next lookup builds it afresh from our attributes.
     */
    void prune(long nodeId) throws IOException;
}
