package jbtrfs.fuse;

import java.util.List;
import java.util.Locale;

import jbtrfs.fs.FsInfo;

/** Formats {@link FsInfo} for people: aligned "key: value" lines, then block groups and subvolumes as tables. */
final class InfoFormatter {
    private InfoFormatter() {
    }

    static String format(String image, FsInfo i) {
        StringBuilder b = new StringBuilder();
        line(b, "image", image);
        line(b, "label", i.label().isEmpty() ? "(none)" : i.label());
        line(b, "fsid", i.fsid());
        line(b, "generation", Long.toString(i.generation()));
        line(b, "nodesize", Integer.toString(i.nodesize()));
        line(b, "sectorsize", Integer.toString(i.sectorsize()));
        line(b, "checksum", i.csumType());
        line(b, "incompat features", join(i.incompatFlags()));
        line(b, "compat_ro features", join(i.compatRoFlags()));
        line(b, "compat features", join(i.compatFlags()));
        line(b, "total size", size(i.totalBytes()));
        line(b, "used", size(i.bytesUsed()));
        line(b, "devices", Long.toString(i.numDevices()));
        line(b, "superblock copies", Integer.toString(i.superblockCopies()));
        if (!i.devices().isEmpty()) {
            b.append("\nmembers:\n");
            b.append(String.format(Locale.ROOT, "  %6s %-36s %26s %26s %s%n", "DEVID", "UUID", "SIZE", "USED", "PATH"));
            for (FsInfo.Device d : i.devices()) {
                b.append(String.format(Locale.ROOT, "  %6d %-36s %26s %26s %s%n", d.devid(), d.uuid(),
                        size(d.totalBytes()), size(d.bytesUsed()), d.path() == null ? "(missing)" : d.path()));
            }
        }
        b.append("\nblock groups:\n");
        b.append(String.format(Locale.ROOT, "  %-14s %-8s %6s %26s %26s%n", "TYPE", "PROFILE", "COUNT", "SIZE", "USED"));
        for (FsInfo.BlockGroupSummary g : i.blockGroups()) {
            b.append(String.format(Locale.ROOT, "  %-14s %-8s %6d %26s %26s%n", g.type(), g.profile(), g.count(),
                    size(g.totalBytes()), size(g.usedBytes())));
        }
        b.append("\nsubvolumes:");
        if (i.subvolumes().isEmpty()) {
            b.append(" (only the top level)\n");
        } else {
            b.append('\n');
            b.append(String.format(Locale.ROOT, "  %6s %10s %-14s %s%n", "ID", "GEN", "KIND", "PATH"));
            for (FsInfo.SubvolumeSummary s : i.subvolumes()) {
                String kind = (s.snapshot() ? "snapshot" : "subvolume") + (s.readOnly() ? ",ro" : "");
                b.append(String.format(Locale.ROOT, "  %6d %10d %-14s %s%n", s.id(), s.generation(), kind, s.path()));
            }
        }
        return b.toString();
    }

    private static void line(StringBuilder b, String key, String value) {
        b.append(String.format(Locale.ROOT, "%-19s %s%n", key + ":", value));
    }

    private static String join(List<String> flags) {
        return flags.isEmpty() ? "(none)" : String.join(", ", flags);
    }

    /** "256.00 MiB (268435456)". */
    static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.2f %s (%d)", v, units[u], bytes);
    }
}
