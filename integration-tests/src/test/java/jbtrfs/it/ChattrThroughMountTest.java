package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.TreeListing;

/**
 * lsattr and chattr through our mount, held to the kernel's: the same script on a fresh image mounted by the
 * kernel and by us prints the same attributes and the same refusals (FS_IOC_FSSETXATTR's too); new files inherit their directory's
 * attributes; btrfs check is clean and the kernel shows what we showed.
 */
class ChattrThroughMountTest {
    /** Each line's exit status is printed. */
    static final String SCRIPT = """
            try() { "$@" 2>/dev/null && echo "$* 0" || echo "$* $?"; }
            mkdir nocow comp nocomp plain
            try chattr +C nocow
            try chattr +c comp
            try chattr +m nocomp
            for d in nocow comp nocomp plain; do touch $d/new; mkdir $d/sub; done
            seq 1 60000 > comp/text
            seq 1 50000 > nocow/data
            echo data > full; try chattr +C full
            touch empty; try chattr +C empty
            try chattr +c empty
            try chattr +cm plain/new
            try chattr +dAS plain/new
            try chattr -d plain/new
            try chattr -c comp/new
            echo x > imm; try chattr +i imm
            echo x > app; try chattr +a app
            try sh -c 'echo y > imm'
            try sh -c 'echo y >> imm'
            try sh -c 'echo y >> app'
            try sh -c 'echo y > app'
            try truncate -s 0 app
            try rm -f imm
            try mv app app2
            try chmod 600 imm
            try chown 5 app
            try touch -d 2001-01-01 app
            try touch app
            try touch imm
            try setfattr -n user.a -v 1 app
            try ln imm imm2
            try fallocate -l 1M app
            try fallocate -n -l 1M app
            mkdir idir; touch idir/in; try chattr +i idir
            try touch idir/x
            try rm idir/in
            try mv imm idir/imm
            try sh -c 'echo z > idir/in'
            try chattr -i imm
            try rm imm
            try setpriv --reuid=1000 chattr -a app
            fsx() { python3 -c '
            import fcntl, os, struct, sys
            fd = os.open(sys.argv[1], os.O_RDONLY)
            b = bytearray(28)
            fcntl.ioctl(fd, 0x801c581f, b)  # FS_IOC_FSGETXATTR
            x, ext, n, proj, cow = struct.unpack_from("<5I", b)
            a = sys.argv[2]
            if a == "proj": proj = 5
            elif a.startswith("-"): x &= ~int(a[1:], 0)
            else: x |= int(a, 0)
            struct.pack_into("<5I", b, 0, x, ext, n, proj, cow)
            try:
                fcntl.ioctl(fd, 0x401c5820, b); r = 0  # FS_IOC_FSSETXATTR, as xfs_io chattr
            except OSError as e:
                r = e.errno
            print("fssetxattr", sys.argv[1], a, r)
            ' "$@"; }
            touch xf; mkdir xd; chattr +C xd
            for f in 0x80 0x40 0x20 proj 0x1 0x2 0x800 0x8000 0x200 -0x80 0x8 -0x8; do fsx xf $f; done
            fsx xd 0x80; fsx xd 0x10; fsx xd -0x10
            lsattr -R . 2>&1 | sort
            getfattr -R -d -m btrfs. . 2>/dev/null | grep -v '^$' | sort
            """;

    @TempDir
    Path dir;

    @Test
    void chattrAndLsattr_likeTheKernels_checkClean() throws Exception {
        SideBySide.Outputs out = SideBySide.run(dir, SCRIPT, 512);
        assertEquals(out.kernel(), out.ours());
        BtrfsCheck.assertCleanWithData(out.ourImage(), "after chattr");
        assertEquals(List.of(), TreeListing.differences(out.ourListing(),
                TreeListing.ofKernelMount(out.ourImage(), dir, ""), 10));
    }
}
