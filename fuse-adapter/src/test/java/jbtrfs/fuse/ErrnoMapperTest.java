package jbtrfs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.junit.jupiter.api.Test;

import jbtrfs.ChecksumMismatchException;
import jbtrfs.CorruptBlockException;
import jbtrfs.FsException;
import jbtrfs.InvalidArgumentException;
import jbtrfs.IsDirectoryException;
import jbtrfs.NoDataException;
import jbtrfs.NotDirectoryException;
import jbtrfs.NotFoundException;
import jbtrfs.ReadOnlyException;
import jbtrfs.UnsupportedImageException;

/** Errno values are Linux's (asm-generic/errno-base.h, errno.h), written out so a wrong mapping cannot hide. */
class ErrnoMapperTest {

    @Test
    void each_error_maps_to_its_own_errno() {
        assertEquals(-2, ErrnoMapper.errno(new NotFoundException("x")));          // ENOENT
        assertEquals(-20, ErrnoMapper.errno(new NotDirectoryException("x")));     // ENOTDIR
        assertEquals(-21, ErrnoMapper.errno(new IsDirectoryException("x")));      // EISDIR
        assertEquals(-61, ErrnoMapper.errno(new NoDataException("x")));           // ENODATA
        assertEquals(-22, ErrnoMapper.errno(new InvalidArgumentException("x"))); // EINVAL
        assertEquals(-30, ErrnoMapper.errno(new ReadOnlyException("x")));         // EROFS
        assertEquals(-17, ErrnoMapper.errno(new jbtrfs.ExistsException("x")));            // EEXIST
        assertEquals(-39, ErrnoMapper.errno(new jbtrfs.NotEmptyException("x")));          // ENOTEMPTY
        assertEquals(-28, ErrnoMapper.errno(new jbtrfs.NoSpaceException("x")));           // ENOSPC
        assertEquals(-18, ErrnoMapper.errno(new jbtrfs.CrossDeviceException("x")));       // EXDEV
        assertEquals(-36, ErrnoMapper.errno(new jbtrfs.NameTooLongException("x")));      // ENAMETOOLONG
        assertEquals(-31, ErrnoMapper.errno(new jbtrfs.TooManyLinksException("x")));      // EMLINK
        assertEquals(-1, ErrnoMapper.errno(new jbtrfs.NotPermittedException("x")));       // EPERM
        assertEquals(-6, ErrnoMapper.errno(new jbtrfs.NoSuchAddressException("x")));      // ENXIO
        assertEquals(-95, ErrnoMapper.errno(new jbtrfs.NotSupportedException("x")));      // EOPNOTSUPP
        assertEquals(-27, ErrnoMapper.errno(new jbtrfs.FileTooBigException("x")));        // EFBIG
    }

    @Test
    void damage_and_anything_unknown_is_eio() {
        assertEquals(-5, ErrnoMapper.errno(new ChecksumMismatchException("x")));
        assertEquals(-5, ErrnoMapper.errno(new CorruptBlockException(5, 4096, 3, "bad")));
        // fsync after an abort: EIO, while a change after it is EROFS
        assertEquals(-5, ErrnoMapper.errno(new jbtrfs.TransactionAbortedException(8, 7, "commit failed", null)));
        assertEquals(-5, ErrnoMapper.errno(new UnsupportedImageException("x")));
        assertEquals(-5, ErrnoMapper.errno(new FsException("x")));
        assertEquals(-5, ErrnoMapper.errno(new IOException("x")));
        assertEquals(-5, ErrnoMapper.errno(new UncheckedIOException(new IOException("x"))));
        assertEquals(-5, ErrnoMapper.errno(new IllegalStateException("bug")));
        assertEquals(-5, ErrnoMapper.errno(new StackOverflowError()));
    }

    @Test
    void ordinary_answers_are_expected_and_damage_is_not() {
        assertTrue(ErrnoMapper.expected(new NotFoundException("x")));
        assertTrue(ErrnoMapper.expected(new NoDataException("x")));
        assertTrue(ErrnoMapper.expected(new ReadOnlyException("x")));
        assertFalse(ErrnoMapper.expected(new ChecksumMismatchException("x")));
        assertFalse(ErrnoMapper.expected(new CorruptBlockException(5, 4096, -1, "bad")));
        assertFalse(ErrnoMapper.expected(new IllegalStateException("bug")));
        assertFalse(ErrnoMapper.expected(new jbtrfs.TransactionAbortedException(8, 7, "commit failed", null)));
    }
}
