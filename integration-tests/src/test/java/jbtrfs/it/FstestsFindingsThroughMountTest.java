package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
