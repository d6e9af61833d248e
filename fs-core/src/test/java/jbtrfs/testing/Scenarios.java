package jbtrfs.testing;

import java.util.List;

/**
 * Shell workloads run by the kernel inside a fresh loop-mounted Btrfs (the current directory). Deterministic in
 * shape; contents come from /dev/urandom.
 */
public final class Scenarios {
    private Scenarios() {
    }

    /** Files that exercise compression: text, random, mixed, tiny (inline), unaligned sizes. */
    private static final String COMPRESSIBLE = """
            mkdir -p c
            seq 1 300000 > c/numbers.txt
            head -c 1000000 /dev/urandom > c/random.bin
            (seq 1 20000; head -c 70000 /dev/urandom; seq 1 20000) > c/mixed.bin
            printf 'tiny inline text %.0s' $(seq 1 20) > c/tiny.txt
            yes abcdefgh | head -c 5000 > c/small.txt
            yes 0123456789 | head -c 131073 > c/just-over-128k.txt
            yes xyz | head -c 4096 > c/one-sector.txt
            dd if=c/numbers.txt of=c/patched.txt bs=1 count=0 2>/dev/null
            cp c/numbers.txt c/overwritten.txt
            dd if=/dev/urandom of=c/overwritten.txt bs=4096 seek=10 count=3 conv=notrunc 2>/dev/null
            sync
            """;

    /** Every scenario's name. */
    public static final List<String> NAMES = List.of("compress-zstd", "compress-lzo",
            "compress-zlib", "reflink-prealloc-holes", "subvolumes-snapshots", "default-subvolume", "churn",
            "hardlinks-extrefs");

    /** The script of {@code scenario}. */
    public static String script(String scenario) {
        return switch (scenario) {
            case "compress-zstd", "compress-lzo", "compress-zlib" -> COMPRESSIBLE;
            case "reflink-prealloc-holes" -> """
                    head -c 3000000 /dev/urandom > base.bin
                    cp --reflink=always base.bin clone.bin
                    dd if=/dev/urandom of=clone.bin bs=4096 seek=100 count=5 conv=notrunc 2>/dev/null
                    fallocate -l 8M prealloc.bin
                    dd if=/dev/urandom of=prealloc.bin bs=4096 seek=300 count=10 conv=notrunc 2>/dev/null
                    touch keepsize.bin && fallocate -n -l 1M keepsize.bin
                    head -c 2000000 /dev/urandom > punched.bin
                    fallocate -p -o 409600 -l 819200 punched.bin
                    truncate -s 50M sparse.bin
                    printf 'x' | dd of=sparse.bin bs=1 seek=30000000 conv=notrunc 2>/dev/null
                    sync
                    """;
            case "subvolumes-snapshots" -> """
                    btrfs -q subvolume create sub
                    mkdir -p sub/dir && echo inside > sub/dir/file
                    btrfs -q subvolume create sub/nested
                    echo nested > sub/nested/n.txt
                    btrfs -q subvolume snapshot sub snap
                    btrfs -q subvolume snapshot -r sub snap-ro
                    echo changed > sub/dir/file
                    echo new > snap/added
                    mkdir deep && btrfs -q subvolume create deep/sub2 && echo two > deep/sub2/t
                    sync
                    """;
            case "churn" -> """
                    mkdir -p a/b/c
                    for i in $(seq 1 300); do head -c $((i * 37)) /dev/urandom > a/f$i; done
                    for i in $(seq 1 300 7); do rm a/f$i; done
                    for i in $(seq 2 300 11); do mv a/f$i a/b/c/moved$i 2>/dev/null || true; done
                    head -c 5000000 /dev/urandom > big.bin
                    for off in 7 123 999 2345 4000; do
                      dd if=/dev/urandom of=big.bin bs=1000 seek=$off count=3 conv=notrunc 2>/dev/null
                    done
                    truncate -s 3333333 big.bin
                    truncate -s 6000000 big.bin
                    head -c 100000 /dev/urandom > shrink.bin && truncate -s 1000 shrink.bin
                    ln -s a/b/c link-to-dir && ln -s /does/not/exist dangling
                    mkfifo fifo && mknod chardev c 1 3 && mknod blockdev b 7 200 && mknod bigdev c 300 70000
                    chown 1234:5678 a/f3 && chmod 4755 a/f3 && chmod 1777 a/b
                    setfattr -n user.color -v blue a/f4
                    setfattr -n trusted.secret -v 0x00ff00 a/f4
                    setfattr -n user.empty a/f5
                    setfacl -m u:1000:rwx a/f6 && setfacl -d -m g:100:rx a/b
                    touch -d '2001-02-03 04:05:06.123456789' a/f8
                    mkdir many && for i in $(seq 1 3000); do : > many/entry-$i; done
                    sync
                    """;
            case "default-subvolume" -> """
                    echo top > top.txt
                    btrfs -q subvolume create chosen
                    echo chosen > chosen/inside.txt && mkdir chosen/dir
                    btrfs -q subvolume set-default chosen
                    sync
                    """;
            case "hardlinks-extrefs" -> """
                    mkdir d && echo target > d/t
                    for i in $(seq 1 250); do ln d/t d/hardlink-with-a-rather-long-name-to-overflow-the-ref-$i; done
                    mkdir e && ln d/t e/other-dir-link
                    sync
                    """;
            default -> throw new IllegalArgumentException(scenario);
        };
    }
}
