package jbtrfs.it;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * chown(f, -1, -1), as pjdfstest's chown/00.t does it, on the kernel's Btrfs and on ours: it changes ctime, and on a
 * non-directory clears set-user-ID, and set-group-ID where group execute is set or the caller (without CAP_FSETID)
 * is outside the file's group, even though no owner changes; on an immutable or append-only file too, which refuses
 * a new owner. A caller other than the owner may not clear them (EPERM).
 */
class ChownThroughMountTest {
    /** Per file: mode, type, who runs chown -1 -1, the mode after, whether ctime moved. */
    static final String CHOWN_SAME_OWNER = """
            n=0
            for m in 6555 6545 4555 2555 2545 0555; do
              for who in user root outside; do
                for type in file dir fifo; do
                  n=$((n + 1)); f=$type$n
                  case $type in file) touch $f ;; dir) mkdir $f ;; fifo) mkfifo $f ;; esac
                  if [ $who = outside ]; then chown 65534:0 $f; else chown 65534:65534 $f; fi
                  chmod $m $f
                done
              done
            done
            sleep 0.05
            n=0
            for m in 6555 6545 4555 2555 2545 0555; do
              for who in user root outside; do
                for type in file dir fifo; do
                  n=$((n + 1)); f=$type$n; before=$(stat -c %.9Z $f)
                  case $who in root) perl -e 'chown(-1, -1, $ARGV[0]) or die "$!"' $f ;; *) user perl -e 'chown(-1, -1, $ARGV[0]) or die "$!"' $f ;; esac
                  echo "$m $type $who $? $(stat -c %a $f) $([ "$(stat -c %.9Z $f)" != "$before" ] && echo ctime-changed || echo ctime-kept)"
                done
              done
            done
            for flag in i a; do
              f=flag$flag; touch $f; chmod 4755 $f; chattr +$flag $f; before=$(stat -c %.9Z $f); sleep 0.05
              rc=0; user perl -e 'chown(-1, -1, $ARGV[0]) or die "$!"' $f 2>/dev/null || rc=$?
              echo "+$flag other $rc $(stat -c %a $f)"
              rc=0; perl -e 'chown(-1, -1, $ARGV[0]) or die "$!"' $f || rc=$?
              perl -e 'chown(0, -1, $ARGV[0]) or print "new owner: $!\n"' $f
              echo "+$flag $rc $(stat -c %a $f) $([ "$(stat -c %.9Z $f)" != "$before" ] && echo ctime-changed || echo ctime-kept)"
              chattr -$flag $f
            done
            # a write by a user other than the owner clears them too (an empty SETATTR as well): it must pass
            for m in 4777 6777 2777; do
              f=w$m; echo hi > $f; chmod $m $f; stat -c %a $f > /dev/null
              rc=0; user sh -c "echo more >> $f" || rc=$?
              echo "write $m $rc $(stat -c %a $f)"
            done
            """;

    @TempDir
    Path dir;

    @Test
    void chownToSameOwner_clearsSetIdBitsAndStampsCtimeLikeTheKernels() throws Exception {
        Jbtrfs.requireNativeTransport("chown(-1, -1) reaches libfuse 2 as a SETATTR it calls nothing for");
        SideBySide.assertSameForNobody(dir, CHOWN_SAME_OWNER, "6555 file user 0 555 ctime-changed");
    }
}
