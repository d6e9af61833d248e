package jbtrfs.testing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

/**
 * Random bash scripts of namespace, data and xattr changes with fsyncs among them, for comparing log replays: a
 * committed base, then creates, writes, appends, truncations, renames within and across directories (files and
 * directories), hard links, unlinks, mkdir/rmdir, xattrs set and removed, fallocate, fsync and fdatasync of files
 * and directories, and now and then a sync. A small model of the tree keeps every command valid, so a script never
 * fails; the same seed gives the same script.
 */
public final class FsyncScripts {
    private static final String[] NAMES = {"a", "b", "c", "d", "e", "long-name-of-a-file", "x1", "y2"};

    private final Random rnd;
    private final TreeSet<String> files = new TreeSet<>();
    private final TreeSet<String> dirs = new TreeSet<>();
    /** Which inode each file path names: a rename between two names of one inode is no rename (mv refuses it). */
    private final Map<String, Integer> inodes = new HashMap<>();
    private int nextInode;
    private final StringBuilder out = new StringBuilder();

    private FsyncScripts(long seed) {
        this.rnd = new Random(seed);
        dirs.add(".");
    }

    /** The script of {@code seed}: a base of a few files and directories, a sync, then {@code ops} changes. */
    public static String generate(long seed, int ops) {
        FsyncScripts g = new FsyncScripts(seed);
        for (int i = 0; i < 3; i++) g.mkdir();
        for (int i = 0; i < 6; i++) g.create();
        g.line("sync");
        for (int i = 0; i < ops; i++) g.step();
        // the last change made durable by an fsync alone, so the image mostly carries a log
        if (!g.files.isEmpty()) g.line("xfs_io -c fsync " + g.pick(g.files));
        return g.out.toString();
    }

    private void step() {
        int r = rnd.nextInt(100);
        if (r < 10) create();
        else if (r < 20) write();
        else if (r < 26) append();
        else if (r < 31) truncate();
        else if (r < 39) rename();
        else if (r < 44) link();
        else if (r < 50) unlink();
        else if (r < 55) mkdir();
        else if (r < 58) rmdir();
        else if (r < 64) xattr();
        else if (r < 68) fallocate();
        else if (r < 82) fsyncFile();
        else if (r < 97) fsyncDir();
        else line("sync");
    }

    private void create() {
        String p = newPath();
        if (p == null) return;
        line("head -c " + size() + " /dev/urandom > " + p);
        files.add(p);
        inodes.put(p, nextInode++);
    }

    private void write() {
        if (files.isEmpty()) return;
        line(String.format("xfs_io -c 'pwrite -q -S 0x%02x %d %d' %s", rnd.nextInt(256), size(), 1 + rnd.nextInt(70_000),
                pick(files)));
    }

    private void append() {
        if (files.isEmpty()) return;
        line("head -c " + (1 + rnd.nextInt(20_000)) + " /dev/urandom >> " + pick(files));
    }

    private void truncate() {
        if (files.isEmpty()) return;
        line("truncate -s " + size() + " " + pick(files));
    }

    private int size() {
        // inline-sized, a few sectors, or a few hundred KiB
        int k = rnd.nextInt(3);
        return k == 0 ? rnd.nextInt(3000) : k == 1 ? rnd.nextInt(40_000) : rnd.nextInt(300_000);
    }

    private void rename() {
        boolean dir = rnd.nextInt(4) == 0 && dirs.size() > 1;
        if (dir) {
            String from = pickOther(dirs);
            String to = newPath();
            if (to == null || to.startsWith(from + "/")) return;
            line("mv -T " + from + " " + to);
            moveTree(from, to);
            return;
        }
        if (files.isEmpty()) return;
        String from = pick(files);
        // over an existing file now and then, else to a free name
        String to = rnd.nextInt(4) == 0 && files.size() > 1 ? pick(files) : newPath();
        if (to == null || inodes.get(from).equals(inodes.get(to))) return;
        line("mv -T " + from + " " + to);
        files.remove(from);
        files.add(to);
        inodes.put(to, inodes.remove(from));
    }

    /** A directory and everything under it change their leading path. */
    private void moveTree(String from, String to) {
        for (TreeSet<String> set : List.of(files, dirs)) {
            List<String> moved = new ArrayList<>();
            for (String p : set) if (p.equals(from) || p.startsWith(from + "/")) moved.add(p);
            for (String p : moved) {
                String now = to + p.substring(from.length());
                set.remove(p);
                set.add(now);
                if (inodes.containsKey(p)) inodes.put(now, inodes.remove(p));
            }
        }
    }

    private void link() {
        if (files.isEmpty()) return;
        String to = newPath();
        if (to == null) return;
        String from = pick(files);
        line("ln " + from + " " + to);
        files.add(to);
        inodes.put(to, inodes.get(from));
    }

    private void unlink() {
        if (files.isEmpty()) return;
        String p = pick(files);
        line("rm " + p);
        files.remove(p);
        inodes.remove(p);
    }

    private void mkdir() {
        String p = newPath();
        if (p == null) return;
        line("mkdir " + p);
        dirs.add(p);
    }

    private void rmdir() {
        List<String> empty = new ArrayList<>();
        for (String d : dirs) {
            if (!d.equals(".") && files.stream().noneMatch(f -> f.startsWith(d + "/"))
                    && dirs.stream().noneMatch(x -> x.startsWith(d + "/"))) {
                empty.add(d);
            }
        }
        if (empty.isEmpty()) return;
        String d = empty.get(rnd.nextInt(empty.size()));
        line("rmdir " + d);
        dirs.remove(d);
    }

    private void xattr() {
        String p = rnd.nextBoolean() || files.isEmpty() ? pick(dirs) : pick(files);
        String name = "user.k" + rnd.nextInt(4);
        if (rnd.nextInt(3) == 0) line("setfattr -x " + name + " " + p + " 2>/dev/null || true");
        else line("setfattr -n " + name + " -v v" + rnd.nextInt(1_000_000) + " " + p);
    }

    private void fallocate() {
        if (files.isEmpty()) return;
        line("fallocate " + (rnd.nextBoolean() ? "-n " : "") + "-o " + rnd.nextInt(200_000) + " -l "
                + (4096 + rnd.nextInt(300_000)) + " " + pick(files));
    }

    private void fsyncFile() {
        if (files.isEmpty()) return;
        line("xfs_io -c " + (rnd.nextBoolean() ? "fsync " : "fdatasync ") + pick(files));
    }

    private void fsyncDir() {
        line("xfs_io -c fsync " + pick(dirs));
    }

    /** A name not taken in a random directory, or null when the one tried is taken. */
    private String newPath() {
        String d = pick(dirs);
        String p = (d.equals(".") ? "" : d + "/") + NAMES[rnd.nextInt(NAMES.length)];
        return files.contains(p) || dirs.contains(p) ? null : p;
    }

    private String pick(TreeSet<String> set) {
        int i = rnd.nextInt(set.size());
        for (String s : set) if (i-- == 0) return s;
        throw new IllegalStateException("empty");
    }

    /** A directory other than the top one (the caller knows there is one). */
    private String pickOther(TreeSet<String> set) {
        String s;
        do {
            s = pick(set);
        } while (s.equals("."));
        return s;
    }

    private void line(String command) {
        out.append(command).append('\n');
    }
}
