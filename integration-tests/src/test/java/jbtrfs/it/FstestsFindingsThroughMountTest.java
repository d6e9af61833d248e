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

    @TempDir
    Path dir;

    @Test
    void fallocate_dropsSetIdBitsLikeTheKernels() throws Exception {
        Jbtrfs.requireNativeTransport("dropping set-ID bits on fallocate (libfuse 2 does not say who asks)");
        SideBySide.Outputs out = SideBySide.run(dir, FALLOCATE_SETID, 256, "-o", "allow_other");
        assertEquals(out.kernel(), out.ours());
    }
}
