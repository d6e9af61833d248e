package jbtrfs.fuse;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Splits {@code -o} options into ours (subvol=, subvolid=, read_ahead_kb=, metrics=, ro, rw) and FUSE's, and assembles the FUSE option
 * string: read-only, inode numbers passed through, the page cache kept across opens (the image cannot change),
 * permission checks by the kernel, and long attribute timeouts.
 */
record MountOptionParser(String subvol, long subvolid, boolean readOnlyRequested, int readAheadKib,
                         InetSocketAddress metrics, List<String> passThrough) {
    static final int DEFAULT_READ_AHEAD_KIB = 1024;


    static MountOptionParser parse(List<String> groups) throws CliException {
        String subvol = null;
        long subvolid = 0;
        boolean ro = false;
        int readAhead = DEFAULT_READ_AHEAD_KIB;
        InetSocketAddress metrics = null;
        List<String> pass = new ArrayList<>();
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
                    try {
                        readAhead = Integer.parseInt(o.substring(14));
                    } catch (NumberFormatException e) {
                        throw new CliException("bad option " + o + ": read_ahead_kb takes a number", 2);
                    }
                } else if (o.startsWith("metrics=")) {
                    metrics = metricsAddress(o.substring(8));
                } else if (o.equals("ro")) {
                    ro = true;
                } else if (!o.equals("rw")) {
                    pass.add(o);
                }
            }
        }
        return new MountOptionParser(subvol, subvolid, ro, readAhead, metrics, pass);
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

    /** The FUSE -o string for an image at {@code imagePath}. */
    String fuseOptions(String imagePath) {
        Set<String> out = new LinkedHashSet<>(List.of("ro", "use_ino", "readdir_ino", "default_permissions",
                "kernel_cache", "max_read=131072", "attr_timeout=3600", "entry_timeout=3600",
                "negative_timeout=60", "subtype=jbtrfs"));
        out.add("fsname=" + imagePath.replace(",", "\\,"));
        out.addAll(passThrough);
        return String.join(",", out);
    }
}
