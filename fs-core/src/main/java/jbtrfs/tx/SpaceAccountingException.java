package jbtrfs.tx;

import jbtrfs.Errno;
import jbtrfs.FsException;

/** A settled commit whose block group counters or free space disagree with its extent tree (EIO; it aborts). */
public final class SpaceAccountingException extends FsException {
    SpaceAccountingException(String problem) {
        super(Errno.EIO, "space accounting: " + problem);
    }
}
