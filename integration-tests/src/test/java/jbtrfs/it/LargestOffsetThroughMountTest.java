package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;

/**
 * xfstests generic/564's copy to the largest file offset, and writes, truncates and fallocates (every mode) near
 * 2^63 - 1, through our mount and the kernel's: the same return codes, sizes, blocks and bytes; the files are
 * deleted at the end and btrfs check finds our image clean.
 */
class LargestOffsetThroughMountTest {
    /** Each case prints its errno (0 when it succeeded), then size, blocks and a hash of the last 8200 bytes. */
    static final String SCRIPT = """
            python3 - <<'EOF'
            import ctypes, errno, hashlib, os
            M = 2**63 - 1
            libc = ctypes.CDLL(None, use_errno=True)
            libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
            KEEP, PUNCH, ZERO = 1, 2, 16
            def falloc(fd, mode, off, n):
                if libc.fallocate(fd, mode, off, n) != 0:
                    e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
            def case(name, *ops):
                fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o644)
                codes = []
                for op in ops:
                    try:
                        r = op(fd); codes.append(str(r) if isinstance(r, int) else "0")
                    except OSError as e:
                        codes.append(errno.errorcode[e.errno])
                st = os.fstat(fd)
                tail = os.pread(fd, 8200, M - 8200)
                print(name, " ".join(codes), st.st_size, st.st_blocks, hashlib.md5(tail).hexdigest()[:12])
                os.close(fd)
            w = lambda off, n, v: (lambda fd: os.pwrite(fd, bytes([v]) * n, off))
            t = lambda size: (lambda fd: os.ftruncate(fd, size))
            fa = lambda mode, off, n: (lambda fd: falloc(fd, mode, off, n))
            with open("src", "wb") as f: f.write(b"a" * 131072)
            src = os.open("src", os.O_RDONLY)
            case("copy", lambda fd: os.copy_file_range(src, fd, 65537, 0, M - 65536),
                 lambda fd: os.copy_file_range(src, fd, 1, 0, M))
            case("last", w(M - 1, 1, 0x62))
            case("end", w(M - 5000, 5000, 0x62))
            case("across", w(M - 5000, 5001, 0x62), w(M, 1, 0x62))
            case("trunc", t(M), w(M - 100, 50, 0x63), t(M - 10))
            case("trunc2", w(M - 20000, 20000, 0x64), t(M - 4096), t(M - 4095))
            case("punch", w(M - 20000, 20000, 0x65), fa(PUNCH | KEEP, M - 9000, 9000),
                 fa(PUNCH | KEEP, M - 100, 101))
            case("punch2", w(M - 20000, 20000, 0x65), fa(PUNCH | KEEP, M - 100, 100))
            case("zero", w(M - 20000, 20000, 0x66), fa(ZERO, M - 9000, 9000))
            case("zerokeep", w(M - 20000, 20000, 0x66), fa(ZERO | KEEP, M - 3000, 3000))
            case("keep", fa(KEEP, M - 3000, 3000), w(M - 1000, 1000, 0x67))
            case("prealloc", fa(0, M - 30000, 30000), w(M - 10000, 100, 0x67))
            case("refused", fa(0, M - 1, 2), fa(0, 0, M))
            case("inline", w(0, 3000, 0x68), w(M - 3000, 3000, 0x68))
            case("over", w(M - 1000, 1000, 0x69), w(M - 2000, 1500, 0x6a))
            os.close(src)
            for n in sorted(os.listdir(".")): os.unlink(n)
            print(os.listdir("."))
            EOF
            """;

    @TempDir
    Path dir;

    @Test
    void writesTruncatesFallocatesAtTheLargestOffset_likeTheKernels_deleteClean() throws Exception {
        // without writeback caching: the kernel's Btrfs counts delalloc in st_blocks at once, while FUSE shows the
        // blocks of what it has written back (README, transport=), and the script stats right after each write
        SideBySide.Outputs out = SideBySide.run(dir, SCRIPT, 256, "-o", "no_writeback_cache");
        assertEquals(out.kernel(), out.ours());
        BtrfsCheck.assertCleanWithData(out.ourImage(), "after the deletes");
    }
}
