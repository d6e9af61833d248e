package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;

/**
 * What fstests' generic tests found on our mount (tests/xfstests/run), kept as the few steps that show each, run
 * by the same script on the kernel's Btrfs and on ours.
 */
class FstestsFindingsThroughMountTest {
    /**
     * generic/683: fallocate drops suid, and sgid where group execute is set or the caller is outside the file's
     * group, unless the caller holds CAP_FSETID (root here; setpriv's user 1000 holds none), as any change does.
     */
    static final String FALLOCATE_SETID = """
            chmod 777 .
            user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
            n=0
            for m in 6666 6676 6766 6777 2666 2676 4666; do
              for who in root user ingroup; do
                for mode in "" "-n" "-p"; do
                  n=$((n + 1)); f=f$n
                  head -c 131072 /dev/zero > $f; chmod $m $f
                  case $who in
                    root) fallocate $mode -o 65536 -l 65536 $f ;;
                    user) user fallocate $mode -o 65536 -l 65536 $f ;;
                    ingroup) chgrp 1000 $f; chmod $m $f; user fallocate $mode -o 65536 -l 65536 $f ;;
                  esac
                  echo "$m $who '$mode' $? $(stat -c %a $f)"
                done
              done
            done
            """;

    /**
     * generic/355: a direct (O_DIRECT) write by a user drops suid, and sgid where group execute is set or the writer
     * is outside the file's group; the next stat shows it at once (the kernel keeps its cached mode otherwise).
     */
    static final String DIRECT_WRITE_SETID = """
            chmod 777 .
            user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
            n=0
            for m in 6644 6744 6654 6754 6666 6676; do
              for g in 1000 0; do
                n=$((n + 1)); f=f$n
                echo "this is a test" > $f; chown 1000:$g $f; chmod $m $f; stat -c %a $f > /dev/null
                user xfs_io -d -c 'pwrite 0 4k' $f > /dev/null
                echo "$m $g $? $(stat -c %a $f)"
              done
            done
            """;

    /**
     * generic/319, 375 and 389: POSIX ACLs. New files, directories, fifos and O_TMPFILE files inherit their
     * directory's default ACL with the create mode and without the umask (a symlink does not); chmod rewrites the
     * access ACL; an ACL the mode says in full is not kept; the kernel checks a named user's entry; an ACL set by
     * the owner outside the file's group drops set-group-ID.
     */
    static final String POSIX_ACLS = """
            umask 022; chmod 777 .
            user() { setpriv --reuid=1000 --regid="$1" --clear-groups "${@:2}"; }
            show() { for f in "$@"; do stat -c '%n %a' $f; getfacl -n $f 2>&1 | grep -v '^#'; done; }
            mkdir d e; setfacl -d -m u::rwx,g::rwx,o::rx,u:1000:rx d; setfacl -d -m u::rwx,g::rwx,o::rx e
            for x in d e; do
              touch $x/f; mkdir $x/sub; mkdir -m 700 $x/sub7; mknod $x/fifo p; ln -s f $x/l
              xfs_io -T -m 0666 -c 'pwrite 0 4096' -c "flink $x/t" $x > /dev/null
              show $x $x/f $x/sub $x/sub7 $x/fifo $x/t; stat -c '%n %a' $x/l
            done
            chmod 750 d/f; chmod 700 d/sub; show d/f d/sub
            touch g; setfacl -m u::rwx,g::rwx,o::rwx g; stat -c '%n %a' g; getfattr -n system.posix_acl_access g 2>&1 || true
            setfacl -m u:1000:rw g; show g; setfacl -m m::r g; show g; chmod 640 g; show g; setfacl -b g; show g
            echo x > h; chmod 666 h; setfacl -m u:1000:--- h; user 1000 cat h 2>&1 || echo refused
            for grp in 1000 1001; do
              touch s$grp; chown 1000:1000 s$grp; chmod 2755 s$grp
              user $grp setfacl -m u::rwx,g::rwx,o::rwx s$grp; stat -c '%n %A' s$grp
              chmod 2755 s$grp; user $grp chmod 2777 s$grp; stat -c '%n %A' s$grp
            done
            """;

    /**
     * generic/423: a new file's btime is not after the mtime and ctime its first write gave it (the kernel stamps
     * those from its coarse clock under writeback caching; the kernel's Btrfs takes all four from one reading).
     */
    static final String BTIME_ORDER = """
            for n in $(seq 40); do
              dd if=/dev/zero of=f$n bs=1024 count=20 status=none
              stat -c '%.9W %.9Y %.9Z' f$n
            done | awk '{ if ($1 > $2 || $1 > $3) late++ } END { print NR " files, btime after mtime or ctime: " late + 0 }'
            """;

    /**
     * generic/467 and 477: a directory opened by file handle after the kernel forgot it (dropped caches) is
     * reconnected through "..", then found by name in its parent's listing; its path shows where it is now, after a
     * rename and a move too. A removed directory's handle and its file's are stale.
     */
    static final String FILE_HANDLES = """
            mkdir -p a/b/c a/x; echo data > a/b/c/f
            python3 - <<'PY'
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            mnt = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
            def handle(path):
                h = ctypes.create_string_buffer(8 + 128)
                ctypes.c_uint32.from_buffer(h, 0).value = 128
                mount_id = ctypes.c_int()
                if libc.name_to_handle_at(-100, path.encode(), h, ctypes.byref(mount_id), 0) != 0:
                    raise OSError(ctypes.get_errno(), path)
                return h
            def forget():
                os.sync()
                with open("/proc/sys/vm/drop_caches", "w") as d:
                    d.write("3")
            def show(label, h, flags):
                fd = libc.open_by_handle_at(mnt, h, flags)
                if fd < 0:
                    print(label, os.strerror(ctypes.get_errno()))
                    return
                path = os.path.relpath(os.readlink("/proc/self/fd/%d" % fd), os.getcwd())
                body = sorted(os.listdir(fd)) if flags & os.O_DIRECTORY else os.read(fd, 100)
                print(label, path, body)
                os.close(fd)
            names = ["a/b/c", "a/b", "a/x", "a"]  # the deepest first: its parents are not cached either
            handles = {n: handle(n) for n in names}
            f = handle("a/b/c/f")
            for step in ["as made", "after a rename", "after a move", "after rmdir"]:
                if step == "after a rename":
                    os.rename("a/b", "a/b2")
                elif step == "after a move":
                    os.rename("a/b2/c", "a/x/c2")
                elif step == "after rmdir":
                    os.unlink("a/x/c2/f")
                    os.rmdir("a/x/c2")
                forget()
                for n in names:
                    show(step + " " + n, handles[n], os.O_RDONLY | os.O_DIRECTORY)
                forget()
                show(step + " a/b/c/f", f, os.O_RDONLY)
            PY
            """;

    /**
     * generic/078, 626 and 700 (notrun before: "kernel doesn't support renameat2"): RENAME_WHITEOUT leaves a
     * character device 0:0 without permission bits at the old name, in a setgid directory too; with EXCHANGE it is
     * EINVAL; over an existing name with NOREPLACE, EEXIST.
     */
    static final String RENAME_WHITEOUT = """
            mkdir sg; chgrp 1000 sg; chmod 2777 sg
            echo a > a; echo b > b; echo c > sg/c; mkdir d
            python3 - <<'PY'
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            def rename2(a, b, flags):
                r = libc.syscall(316, -100, a.encode(), -100, b.encode(), flags)  # renameat2 (x86_64)
                print(a, b, flags, "ok" if r == 0 else os.strerror(ctypes.get_errno()))
            rename2("a", "a2", 4)
            rename2("b", "a2", 4 | 1)
            rename2("b", "a2", 4 | 2)
            rename2("sg/c", "sg/c2", 4)
            rename2("d", "d2", 4)
            PY
            for f in a a2 b sg/c sg/c2 d d2; do stat -c '%n %F %a %t:%T %u:%g %h' $f; done
            cat a2
            """;

    @TempDir
    Path dir;

    @Test
    void fallocate_dropsSetIdBitsLikeTheKernels() throws Exception {
        Jbtrfs.requireNativeTransport("dropping set-ID bits on fallocate (libfuse 2 does not say who asks)");
        SideBySide.Outputs out = SideBySide.run(dir, FALLOCATE_SETID, 256, "-o", "allow_other");
        assertEquals(out.kernel(), out.ours());
    }

    @Test
    void directWrite_dropsSetIdBitsLikeTheKernels() throws Exception {
        Jbtrfs.requireNativeTransport("dropping set-ID bits on a direct write (HANDLE_KILLPRIV_V2)");
        SideBySide.Outputs out = SideBySide.run(dir, DIRECT_WRITE_SETID, 256, "-o", "allow_other");
        assertEquals(out.kernel(), out.ours());
    }

    @Test
    void posixAcls_areInheritedAndKeptWithTheModeLikeTheKernels() throws Exception {
        Jbtrfs.requireNativeTransport("POSIX ACLs (FUSE_POSIX_ACL and DONT_MASK are native transport INIT flags)");
        SideBySide.Outputs out = SideBySide.run(dir, POSIX_ACLS, 256, "-o", "allow_other");
        assertEquals(out.kernel(), out.ours());
        // the ACLs we stored are the kernel's posix_acl_xattr: its own mount of our image reads the same
        assertEquals(aclListing(out.kernelImage()), aclListing(out.ourImage()));
    }

    /** Every inode's mode and ACLs, as the kernel's Btrfs reads them from {@code image}. */
    private String aclListing(Path image) throws Exception {
        Path mnt = Files.createTempDirectory(dir, "acls");
        return Images.kernelScript(image, mnt,
                "find . -printf '%p %m\\n' | sort; getfacl -R -n -p . | grep -v '^# file'");
    }

    @Test
    void newFileBtime_isNotAfterItsFirstWrite() throws Exception {
        Jbtrfs.requireNativeTransport("btime (FUSE_STATX)");
        SideBySide.Outputs out = SideBySide.run(dir, BTIME_ORDER, 256);
        assertEquals("40 files, btime after mtime or ctime: 0\n", out.kernel());
        assertEquals(out.kernel(), out.ours());
    }

    @Test
    void directoryFileHandle_reconnectsAfterTheKernelForgetsIt() throws Exception {
        Jbtrfs.requireNativeTransport("file handles (libfuse 2 has no EXPORT_SUPPORT)");
        SideBySide.Outputs out = SideBySide.run(dir, FILE_HANDLES, 256);
        assertEquals(out.kernel(), out.ours());
    }

    @Test
    void renameWhiteout_leavesTheKernelsWhiteout() throws Exception {
        Jbtrfs.requireNativeTransport("RENAME_WHITEOUT (libfuse 2 speaks no RENAME2)");
        SideBySide.Outputs out = SideBySide.run(dir, RENAME_WHITEOUT, 256);
        assertEquals(out.kernel(), out.ours());
    }
}
