package jbtrfs.it;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A truncate, and an O_TRUNC open, by a caller without CAP_FSETID clears set-user-ID, and set-group-ID where group
 * execute is set or the caller is outside the file's group (setattr_should_drop_sgid), on the kernel's Btrfs and on
 * ours. FUSE's FATTR_KILL_SUIDGID and FUSE_OPEN_KILL_SUIDGID say only "kill": whether the caller is in the group is
 * the daemon's to find out.
 */
class TruncateSetIdThroughMountTest {
    /** Per file: mode, who truncates (root, a user outside the group, a user in it), how, exit code, mode and size after. */
    static final String TRUNCATE_SETID = """
            n=0
            for m in 6767 6777 6757 2767 2777 4767; do
              for who in root user ingroup; do
                for how in truncate otrunc; do
                  n=$((n + 1)); f=f$n
                  echo data > $f
                  if [ $who = ingroup ]; then chgrp 65534 $f; fi
                  chmod $m $f; stat -c %a $f > /dev/null
                  run=user; [ $who = root ] && run=
                  rc=0
                  case $how in
                    truncate) $run truncate -s 2 $f 2>/dev/null || rc=$? ;;
                    otrunc) $run sh -c ": > $f" 2>/dev/null || rc=$? ;;
                  esac
                  echo "$m $who $how $rc $(stat -c '%a %s' $f)"
                done
              done
            done
            """;

    @TempDir
    Path dir;

    @Test
    void truncateByUser_clearsSetIdBitsLikeTheKernels() throws Exception {
        Jbtrfs.requireNativeTransport("HANDLE_KILLPRIV_V2's kill flags reach only the native transport");
        SideBySide.assertSameForNobody(dir, TRUNCATE_SETID, "6767 user truncate 0 767 2");
    }
}
