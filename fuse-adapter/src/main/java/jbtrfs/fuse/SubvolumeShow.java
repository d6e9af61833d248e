package jbtrfs.fuse;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import jbtrfs.format.ObjectIds;
import jbtrfs.format.Timespec;
import jbtrfs.format.Uuids;
import jbtrfs.fs.SubvolumeInfo;

/**
 * {@code jbtrfs subvolume show}'s text, as btrfs-progs prints it (print_subvolume_show_text): GET_SUBVOL_INFO's
 * fields, the path from the top level, and the snapshots (subvolumes whose parent uuid is this one's) in the order
 * libbtrfsutil's iterator walks the tree of subvolumes from the top level. Quotas stay off here, so no quota line.
 */
final class SubvolumeShow {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z");

    private SubvolumeShow() {
    }

    /** The lines for subvolume {@code info}, among {@code rows} (every subvolume, paths from the top level). */
    static List<String> lines(SubvolumeInfo info, List<SubvolumeTable.Row> rows) {
        boolean top = info.treeId() == ObjectIds.FS_TREE;
        String path = top ? "/" : rows.stream().filter(r -> r.id() == info.treeId()).map(SubvolumeTable.Row::path)
                .findFirst().orElse(info.name());
        String created = time(info.otime());
        List<String> out = new ArrayList<>();
        out.add(path);
        out.add("\tName: \t\t\t" + (top ? "<FS_TREE>" : path.substring(path.lastIndexOf('/') + 1)));
        out.add("\tUUID: \t\t\t" + uuid(info.uuid()));
        out.add("\tParent UUID: \t\t" + uuid(info.parentUuid()));
        out.add("\tReceived UUID: \t\t" + uuid(info.receivedUuid()));
        out.add("\tCreation time: \t\t" + created);
        out.add("\tSubvolume ID: \t\t" + info.treeId());
        out.add("\tGeneration: \t\t" + info.generation());
        out.add("\tGen at creation: \t" + info.otransid());
        out.add("\tParent ID: \t\t" + info.parentId());
        out.add("\tTop level ID: \t\t" + info.parentId());
        out.add("\tFlags: \t\t\t" + (info.readOnly() ? "readonly" : "-"));
        out.add("\tSend transid: \t\t" + info.stransid());
        // progs prints the creation time here (its time string is not yet the send time's)
        out.add("\tSend time: \t\t" + created);
        out.add("\tReceive transid: \t" + info.rtransid());
        out.add("\tReceive time: \t\t" + time(info.rtime()));
        out.add("\tSnapshot(s):");
        if (!Arrays.equals(info.uuid(), new byte[16])) {
            Map<Long, List<SubvolumeTable.Row>> children = new TreeMap<>();
            for (SubvolumeTable.Row r : rows) children.computeIfAbsent(r.parent(), k -> new ArrayList<>()).add(r);
            snapshots(ObjectIds.FS_TREE, children, info.uuid(), out);
        }
        return out;
    }

    /** Pre-order from {@code parent}, children by id, as btrfs_util_subvolume_iter_next walks. */
    private static void snapshots(long parent, Map<Long, List<SubvolumeTable.Row>> children, byte[] uuid,
                                  List<String> out) {
        for (SubvolumeTable.Row r : children.getOrDefault(parent, List.of())) {
            if (Arrays.equals(r.item().parentUuid(), uuid)) out.add("\t\t\t\t" + r.path());
            snapshots(r.id(), children, uuid, out);
        }
    }

    private static String uuid(byte[] u) {
        return Arrays.equals(u, new byte[16]) ? "-" : Uuids.format(u);
    }

    private static String time(Timespec t) {
        return t.sec() == 0 ? "-" : TIME.format(Instant.ofEpochSecond(t.sec()).atZone(ZoneId.systemDefault()));
    }
}
