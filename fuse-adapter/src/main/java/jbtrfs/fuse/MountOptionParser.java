package jbtrfs.fuse;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import jbtrfs.compress.CompressionType;
import jbtrfs.compress.Compressor;
import jbtrfs.fs.MountOptions;
import jbtrfs.fs.MountOptions.Compression;
import jbtrfs.fs.MountOptions.SpaceCache;

/**
 * Splits {@code -o} options into ours (subvol=, subvolid=, read_ahead_kb=, dirty_limit=, threads=, metrics=, commit=,
 * space_cache[=v1|v2], nospace_cache, clear_cache, writeout=two-stage|serial, compress[=TYPE[:LEVEL]],
 * compress-force[=TYPE[:LEVEL]], transport=native|libfuse, [no_]writeback_cache, raw_inodes and io_uring (native only),
 * [rescue=]nologreplay, notreelog/treelog, device=PATH (the other devices of a multi-device filesystem), degraded, ro, rw) and
 * FUSE's, and assembles the FUSE option string: read-only, inode numbers passed through, the page cache kept across opens (the image cannot change),
 * permission checks by the kernel, and long attribute timeouts.
 */
record MountOptionParser(String subvol, long subvolid, boolean readOnlyRequested, int readAheadKib,
                         InetSocketAddress metrics, int threads, int commitSeconds, List<String> passThrough,
                         SpaceCache spaceCache, boolean clearCache, boolean serialWriteout,
                         Compression compression, Transport transport,
                         boolean writebackCache, boolean rawInodes, boolean noLogReplay, List<String> devices,
                         boolean degraded, boolean noTreeLog, boolean ioUring, DirtyLimit dirtyLimit) {
    /** How requests reach us: /dev/fuse spoken directly (the default on Linux), or libfuse 2 through jnr-fuse. */
    enum Transport {
        LIBFUSE, NATIVE;

        /** Native on Linux, where /dev/fuse is ours to speak; libfuse, the portable path, elsewhere. */
        static Transport byDefault() {
            return System.getProperty("os.name", "").startsWith("Linux") ? NATIVE : LIBFUSE;
        }
    }

    static final int DEFAULT_READ_AHEAD_KIB = 1024;
    /**
     * FUSE worker threads: two per CPU, at least four. The kernel hands each request to the reader of /dev/fuse that
     * has waited longest, so surplus threads only spread the work over cold caches: on 2 cores, 4 threads served
     * 4 KiB random reads about 30% faster than 8 and sequential reads as fast (docs/benchmarks.md).
     */
    static final int DEFAULT_THREADS = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());


    static MountOptionParser parse(List<String> groups) throws CliException {
        String subvol = null;
        long subvolid = 0;
        boolean ro = false;
        int readAhead = DEFAULT_READ_AHEAD_KIB;
        InetSocketAddress metrics = null;
        int threads = DEFAULT_THREADS;
        int commit = MountOptions.DEFAULT_COMMIT_SECONDS;
        List<String> pass = new ArrayList<>();
        SpaceCache spaceCache = null;
        boolean clearCache = false;
        boolean serial = false;
        Compression compression = null;
        Transport transport = Transport.byDefault();
        boolean writeback = true;
        boolean rawInodes = false;
        boolean noLogReplay = false;
        List<String> devices = new ArrayList<>();
        boolean degraded = false;
        boolean noTreeLog = false;
        boolean ioUring = false;
        DirtyLimit dirtyLimit = DirtyLimit.KERNEL;
        for (String group : groups) {
            for (String o : group.split(",")) {
                if (o.isEmpty()) continue;
                if (o.startsWith("subvol=")) {
                    subvol = o.substring(7);
                } else if (o.startsWith("subvolid=")) {
                    try {
                        subvolid = Long.parseLong(o.substring(9));
                    } catch (NumberFormatException e) {
                        throw new CliException("bad option " + o + ": subvolid takes a number", 2);
                    }
                } else if (o.startsWith("read_ahead_kb=")) {
                    readAhead = number(o, Integer.MIN_VALUE, Integer.MAX_VALUE, "a number");
                } else if (o.startsWith("dirty_limit=")) {
                    dirtyLimit = DirtyLimit.parse(o);
                } else if (o.startsWith("threads=")) {
                    threads = number(o, 1, 256, "a number from 1 to 256");
                } else if (o.startsWith("commit=")) {
                    commit = number(o, 0, 300, "seconds from 0 to 300");
                } else if (o.startsWith("metrics=")) {
                    metrics = metricsAddress(o.substring(8));
                } else if (o.equals("space_cache") || o.equals("space_cache=v1")) {
                    spaceCache = SpaceCache.V1;
                } else if (o.equals("space_cache=v2")) {
                    spaceCache = SpaceCache.V2;
                } else if (o.equals("nospace_cache")) {
                    spaceCache = SpaceCache.NONE;
                } else if (o.startsWith("space_cache=")) {
                    throw new CliException("bad option " + o + ": space_cache takes v1 or v2", 2);
                } else if (o.equals("clear_cache")) {
                    clearCache = true;
                } else if (o.equals("writeout=serial") || o.equals("writeout=two-stage")) {
                    serial = o.endsWith("serial");
                } else if (o.startsWith("writeout=")) {
                    throw new CliException("bad option " + o + ": writeout takes two-stage or serial", 2);
                } else if (o.equals("compress") || o.startsWith("compress=") || o.equals("compress-force")
                        || o.startsWith("compress-force=")) {
                    compression = compression(o);
                } else if (o.equals("transport=native") || o.equals("transport=libfuse")) {
                    transport = o.endsWith("native") ? Transport.NATIVE : Transport.LIBFUSE;
                } else if (o.startsWith("transport=")) {
                    throw new CliException("bad option " + o + ": transport takes native or libfuse", 2);
                } else if (o.equals("writeback_cache") || o.equals("no_writeback_cache")) {
                    writeback = o.equals("writeback_cache");
                } else if (o.equals("raw_inodes")) {
                    rawInodes = true;
                } else if (o.equals("io_uring")) {
                    ioUring = true;
                } else if (o.equals("nologreplay") || o.equals("rescue=nologreplay")) {
                    // the kernel's name before 6.x and its rescue= spelling since
                    noLogReplay = true;
                } else if (o.equals("notreelog") || o.equals("treelog")) {
                    noTreeLog = o.equals("notreelog");
                } else if (o.startsWith("rescue=")) {
                    throw new CliException("bad option " + o + ": of rescue= only nologreplay is known here", 2);
                } else if (o.startsWith("device=")) {
                    if (o.length() == 7) throw new CliException("bad option device=: it takes a path", 2);
                    devices.add(o.substring(7));
                } else if (o.equals("degraded")) {
                    degraded = true;
                } else if (o.equals("ro")) {
                    ro = true;
                } else if (!o.equals("rw")) {
                    pass.add(o);
                }
            }
        }
        return new MountOptionParser(subvol, subvolid, ro, readAhead, metrics, threads, commit, pass, spaceCache,
                clearCache, serial, compression, transport, writeback, rawInodes, noLogReplay, List.copyOf(devices),
                degraded, noTreeLog, ioUring, dirtyLimit);
    }

    /**
     * The kernel's compress and compress-force: TYPE zlib (the default, levels 1-9), lzo (no level) or zstd
     * (levels 1-15), each level 3 when not given; no or none turns compression off.
     */
    private static Compression compression(String o) throws CliException {
        boolean force = o.startsWith("compress-force");
        int eq = o.indexOf('=');
        String value = eq < 0 ? "zlib" : o.substring(eq + 1);
        if (value.equals("no") || value.equals("none")) return null;
        int colon = value.indexOf(':');
        String name = colon < 0 ? value : value.substring(0, colon);
        CompressionType type;
        int maxLevel;
        switch (name) {
            case "zlib" -> {
                type = CompressionType.ZLIB;
                maxLevel = 9;
            }
            case "lzo" -> {
                type = CompressionType.LZO;
                maxLevel = 0;
            }
            case "zstd" -> {
                type = CompressionType.ZSTD;
                maxLevel = 15;
            }
            default -> throw new CliException("bad option " + o + ": compress takes zlib, lzo, zstd or no", 2);
        }
        int level = Compressor.DEFAULT_LEVEL;
        if (colon >= 0) {
            try {
                level = Integer.parseInt(value.substring(colon + 1));
                if (level < 1 || level > maxLevel) throw new NumberFormatException();
            } catch (NumberFormatException e) {
                throw new CliException("bad option " + o + ": " + (maxLevel == 0 ? "lzo takes no level"
                        : name + " levels are 1 to " + maxLevel), 2);
            }
        }
        return new Compression(type, level, force);
    }

    /** The whole number after the = of option {@code o}, from {@code min} to {@code max}; else "NAME takes WHAT". */
    private static int number(String o, int min, int max, String what) throws CliException {
        int eq = o.indexOf('=');
        try {
            int n = Integer.parseInt(o.substring(eq + 1));
            if (n < min || n > max) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            throw new CliException("bad option " + o + ": " + o.substring(0, eq) + " takes " + what, 2);
        }
    }

    /** "HOST:PORT" or "PORT" (loopback). */
    private static InetSocketAddress metricsAddress(String v) throws CliException {
        int colon = v.lastIndexOf(':');
        String host = colon < 0 ? "127.0.0.1" : v.substring(0, colon);
        try {
            int port = Integer.parseInt(v.substring(colon + 1));
            if (port < 0 || port > 65535) throw new NumberFormatException();
            return new InetSocketAddress(host.replace("[", "").replace("]", ""), port);
        } catch (NumberFormatException e) {
            throw new CliException("bad option metrics=" + v + ": expected HOST:PORT or PORT", 2);
        }
    }

    /** The FUSE -o string for a read-only mount of an image at {@code imagePath}. */
    String fuseOptions(String imagePath) {
        return fuseOptions(imagePath, true);
    }

    /** The FUSE -o string for an image at {@code imagePath}, read-only or not. */
    String fuseOptions(String imagePath, boolean readOnly) {
        // read-write: libfuse's high-level API gives each name of a hard-linked file its own kernel inode, so cached
        // pages of one name would go stale when another changes (auto_cache checks at open), and so would attributes:
        // ReplyFilter keeps those of hard-linked files out of the cache; read-only, nothing ever changes
        Set<String> out = new LinkedHashSet<>(List.of(readOnly ? "ro" : "rw", "use_ino", "readdir_ino",
                // 1 MiB reads where ReplyFilter's max_pages allows them (else the kernel sends 128 KiB)
                "default_permissions", readOnly ? "kernel_cache" : "auto_cache", "max_read=" + FuseSession.MAX_DATA,
                // without big_writes libfuse 2 hands writes over a page at a time; ReplyFilter raises max_write to
                // 1 MiB past libfuse's own limit
                "big_writes", "max_write=131072",
                readOnly ? "attr_timeout=3600" : "attr_timeout=1", "entry_timeout=3600", "negative_timeout=60",
                "subtype=jbtrfs",
                // like mount(8): a directory with files in it can be mounted over (libfuse2 alone refuses)
                "nonempty"));
        // like a kernel mount, every user may use it (permissions are the kernel's to check: default_permissions);
        // FUSE lets only root give this without user_allow_other in /etc/fuse.conf
        if ("root".equals(System.getProperty("user.name"))) {
            out.add("allow_other");
            // as root, device nodes and set-user-ID work as on a kernel mount (a root filesystem image must be
            // usable in a chroot); libfuse's own default is nodev,nosuid
            if (!passThrough.contains("nodev")) out.add("dev");
            if (!passThrough.contains("nosuid")) out.add("suid");
        }
        out.add("fsname=" + imagePath.replace(",", "\\,"));
        out.addAll(passThrough);
        return String.join(",", out);
    }
}
