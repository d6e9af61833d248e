package jbtrfs.ctree;

/**
 * The root pointer of one tree while a transaction changes it (≈ the root item's bytenr/level/generation):
 * copy-on-write moves the root, and splits and merges change its level.
 */
public final class TreeRoot {
    private final long owner;
    private long bytenr;
    private int level;
    private long generation;

    public TreeRoot(long owner, long bytenr, int level, long generation) {
        this.owner = owner;
        this.bytenr = bytenr;
        this.level = level;
        this.generation = generation;
    }

    public long owner() { return owner; }

    public long bytenr() { return bytenr; }

    public int level() { return level; }

    public long generation() { return generation; }

    void set(long bytenr, int level, long generation) {
        this.bytenr = bytenr;
        this.level = level;
        this.generation = generation;
    }
}
