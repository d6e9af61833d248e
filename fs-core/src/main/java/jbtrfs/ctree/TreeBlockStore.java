package jbtrfs.ctree;

import java.nio.ByteBuffer;

import jbtrfs.FsException;

/**
 * Where a {@link TreeEditor} finds tree blocks and puts the ones it changes: committed blocks are read-only;
 * blocks copied or created in the running transaction are dirty and writable until commit writes them out.
 */
public interface TreeBlockStore extends TreeBlockSource {

    /** The writable buffer of a block dirtied in this transaction, or null when the block is not dirty. */
    ByteBuffer dirty(long bytenr);

    /** Allocates the address of a new tree block for tree {@code owner} at {@code level}. */
    long allocate(long owner, int level) throws FsException;

    /** Records a new dirty block (nodesize bytes, little-endian, header filled in). */
    void putDirty(long bytenr, ByteBuffer block);

    /** The transaction no longer references {@code bytenr} (copied away or emptied). */
    void free(long bytenr, long owner, int level) throws FsException;
}
