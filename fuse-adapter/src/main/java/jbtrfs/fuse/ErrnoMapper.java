package jbtrfs.fuse;

import java.io.IOException;

import jbtrfs.ChecksumMismatchException;
import jbtrfs.CorruptBlockException;
import jbtrfs.InvalidArgumentException;
import jbtrfs.IsDirectoryException;
import jbtrfs.NoDataException;
import jbtrfs.NotDirectoryException;
import jbtrfs.NotFoundException;
import jbtrfs.ReadOnlyException;
import ru.serce.jnrfuse.ErrorCodes;

/** The one place exceptions become errnos (negative, as FUSE wants them): specific first, EIO last. */
public final class ErrnoMapper {
    private ErrnoMapper() {
    }

    public static int errno(Throwable t) {
        if (t instanceof NotFoundException) return -ErrorCodes.ENOENT();
        if (t instanceof NotDirectoryException) return -ErrorCodes.ENOTDIR();
        if (t instanceof IsDirectoryException) return -ErrorCodes.EISDIR();
        if (t instanceof NoDataException) return -ErrorCodes.ENODATA();
        if (t instanceof InvalidArgumentException) return -ErrorCodes.EINVAL();
        // after an abort a change is refused (EROFS) but durability asked for cannot be given (EIO), as the kernel's
        if (t instanceof jbtrfs.TransactionAbortedException) return -ErrorCodes.EIO();
        if (t instanceof ReadOnlyException) return -ErrorCodes.EROFS();
        if (t instanceof jbtrfs.ExistsException) return -ErrorCodes.EEXIST();
        if (t instanceof jbtrfs.NotEmptyException) return -ErrorCodes.ENOTEMPTY();
        if (t instanceof jbtrfs.NoSpaceException) return -ErrorCodes.ENOSPC();
        if (t instanceof jbtrfs.CrossDeviceException) return -ErrorCodes.EXDEV();
        if (t instanceof jbtrfs.NameTooLongException) return -ErrorCodes.ENAMETOOLONG();
        if (t instanceof jbtrfs.TooManyLinksException) return -ErrorCodes.EMLINK();
        if (t instanceof jbtrfs.NotPermittedException) return -ErrorCodes.EPERM();
        if (t instanceof jbtrfs.NotSupportedException) return -ErrorCodes.EOPNOTSUPP();
        if (t instanceof jbtrfs.FileTooBigException) return -ErrorCodes.EFBIG();
        if (t instanceof jbtrfs.NoSuchAddressException) return -ErrorCodes.ENXIO();
        if (t instanceof ChecksumMismatchException || t instanceof CorruptBlockException) return -ErrorCodes.EIO();
        if (t instanceof IOException) return -ErrorCodes.EIO();
        return -ErrorCodes.EIO();
    }

    /** Whether the error is an ordinary answer (not worth a log line), like a name that does not exist. */
    public static boolean expected(Throwable t) {
        return t instanceof NotFoundException || t instanceof NoDataException || t instanceof NotDirectoryException
                || t instanceof IsDirectoryException || t instanceof InvalidArgumentException
                || t instanceof ReadOnlyException || t instanceof jbtrfs.ExistsException
                || t instanceof jbtrfs.NotEmptyException || t instanceof jbtrfs.NoSpaceException
                || t instanceof jbtrfs.CrossDeviceException || t instanceof jbtrfs.NameTooLongException
                || t instanceof jbtrfs.NotPermittedException || t instanceof jbtrfs.NotSupportedException
                || t instanceof jbtrfs.NoSuchAddressException;
    }
}
