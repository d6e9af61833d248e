package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;


/**
 * The kernel caches attributes of our read-write mount (attr_timeout), and libfuse gives each name of a hard-linked
 * file its own kernel inode: every name must still show what the file is now. One script, run on the kernel's
 * mount and on ours within the cache's lifetime, prints link counts, modes, sizes, owners through every name after
 * each change made through another, the directory's size and link count as names come and go, and whether ctimes
 * moved (and agree between names) after a first link and a chattr; both print the same.
 */
class AttrCacheThroughMountTest {
    static final String SCRIPT = """
            st() { stat -c '%n %h %a %s %u %g' "$@"; }
            ct() { stat -c '%z' "$1"; }
            touch a; st a .
            ln a b; st a b .
            chmod 600 b; st a b
            echo hello >> b; st a b; cat a
            chown 7:8 a; st a b
            truncate -s 2 b; st a b
            rm b; st a .
            ln a c; ln a d; rm c; st a d
            mv d e; st a e .
            setfattr -n user.x -v 1 e; getfattr -n user.x --only-values a; echo
            touch g; st g; c1=$(ct g); sleep 0.05
            ln g h; c2=$(ct g); [ "$c1" != "$c2" ] && echo first-link-moves-ctime
            [ "$(ct g)" = "$(ct h)" ] && echo names-agree-on-ctime
            c1=$(ct h); sleep 0.05; chattr +A h; [ "$c1" != "$(ct h)" ] && echo chattr-moves-ctime
            touch k; c1=$(ct k); sleep 0.05; chattr +A k; [ "$c1" != "$(ct k)" ] && echo chattr-moves-ctime-1
            mkdir sub; st . sub; touch sub/x; st sub; mv sub/x y; st . sub y; rmdir sub; st .
            exec 3>>y; rm y; st g; echo more >&3; stat -L -c '%h %s' /proc/self/fd/3; exec 3>&-
            """;

    @TempDir
    Path dir;

    @Test
    void everyNameShowsTheFileAsItIs_likeTheKernels() throws Exception {
        SideBySide.Outputs out = SideBySide.run(dir, SCRIPT, 256);
        // the kernel's Btrfs stamps ctime in a chattr (btrfs_fileattr_set): with writeback caching ours shows it
        // only through a fresh kernel inode, so a stat right after must wait for it
        assertTrue(out.kernel().contains("chattr-moves-ctime\nchattr-moves-ctime-1\n"), out.kernel());
        assertEquals(out.kernel(), out.ours());
    }
}
