package jbtrfs.ctree;

import jbtrfs.CorruptBlockException;

/** Anything tree blocks can be read from by logical address: the verified reader, or a transaction's store. */
public interface TreeBlockSource {

    /** The block at {@code bytenr}; generation 0 and level -1 mean unknown; {@code owner} names the tree. */
    TreeBlock read(long bytenr, long expectedGeneration, int expectedLevel, long owner) throws CorruptBlockException;
}
