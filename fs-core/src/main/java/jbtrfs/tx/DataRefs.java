package jbtrfs.tx;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Changes to data extent back references made by the running transaction (≈ delayed data refs): per extent, the
 * net change of each (root, inode, offset) reference, and whether the transaction allocated the extent. The commit
 * folds them into the extent tree.
 */
public final class DataRefs {
    /**
     * One reference's identity: the EXTENT_DATA_REF fields (root, inode, file offset minus extent offset), or with
     * {@code parent} non-zero a SHARED_DATA_REF from the leaf at {@code parent} (a block shared with a snapshot).
     */
    public record Ref(long root, long objectid, long offset, long parent) {
        public Ref(long root, long objectid, long offset) {
            this(root, objectid, offset, 0);
        }

        static Ref shared(long parent) {
            return new Ref(0, 0, 0, parent);
        }

        boolean isShared() { return parent != 0; }
    }

    /** Pending changes to one data extent. */
    static final class Extent {
        long numBytes;
        final boolean allocatedHere;
        final Map<Ref, Integer> deltas = new LinkedHashMap<>();

        Extent(long numBytes, boolean allocatedHere) {
            this.numBytes = numBytes;
            this.allocatedHere = allocatedHere;
        }
    }

    private final Map<Long, Extent> extents = new LinkedHashMap<>();
    private long changes;

    long changes() { return changes; }

    /** Records an extent this transaction allocated (its item does not exist yet). */
    public void created(long bytenr, long numBytes) {
        changes++;
        extents.put(bytenr, new Extent(numBytes, true));
    }

    /** Adds {@code delta} references (negative drops) to extent {@code bytenr} of {@code numBytes}. */
    public void change(long bytenr, long numBytes, Ref ref, int delta) {
        changes++;
        Extent e = extents.computeIfAbsent(bytenr, b -> new Extent(numBytes, false));
        e.deltas.merge(ref, delta, Integer::sum);
    }

    /**
     * Whether {@code bytenr} is an extent this transaction allocated whose only reference is {@code ref}, once:
     * then it may still grow.
     */
    public boolean onlyNewRef(long bytenr, Ref ref) {
        Extent e = extents.get(bytenr);
        if (e == null || !e.allocatedHere) return false;
        for (Map.Entry<Ref, Integer> d : e.deltas.entrySet()) {
            if (d.getValue() != 0 && !(d.getKey().equals(ref) && d.getValue() == 1)) return false;
        }
        return e.deltas.getOrDefault(ref, 0) == 1;
    }

    /** Whether this transaction allocated extent {@code bytenr} and no reference to it is left. */
    public boolean unreferencedNew(long bytenr) {
        Extent e = extents.get(bytenr);
        if (e == null || !e.allocatedHere) return false;
        for (int d : e.deltas.values()) if (d != 0) return false;
        return true;
    }

    /** Drops what is pending for extent {@code bytenr}: the caller gave its space back already. */
    public void forget(long bytenr) {
        changes++;
        extents.remove(bytenr);
    }

    /** Whether this transaction allocated extent {@code bytenr}. */
    public boolean allocatedHere(long bytenr) {
        Extent e = extents.get(bytenr);
        return e != null && e.allocatedHere;
    }

    /** Whether every pending reference of the new extent {@code bytenr} is {@code ref}. */
    public boolean onlyRef(long bytenr, Ref ref) {
        Extent e = extents.get(bytenr);
        if (e == null) return false;
        for (Map.Entry<Ref, Integer> d : e.deltas.entrySet()) {
            if (d.getValue() != 0 && !d.getKey().equals(ref)) return false;
        }
        return e.deltas.getOrDefault(ref, 0) > 0;
    }

    /** The net changes pending for a committed extent: of all its references, and of one of them. */
    public record Pending(long all, long ref) {
    }

    /** Pending changes to a committed extent: all references' net change, and {@code ref}'s. */
    public Pending pending(long bytenr, Ref ref) {
        Extent e = extents.get(bytenr);
        if (e == null) return new Pending(0, 0);
        long all = 0;
        for (int d : e.deltas.values()) all += d;
        return new Pending(all, e.deltas.getOrDefault(ref, 0));
    }

    /** An extent this transaction allocated grows in place to {@code numBytes} (see {@link #onlyNewRef}). */
    public void grow(long bytenr, long numBytes) {
        changes++;
        extents.get(bytenr).numBytes = numBytes;
    }

    boolean isEmpty() { return extents.isEmpty(); }

    /** Takes the pending changes, leaving none. */
    Map<Long, Extent> drain() {
        Map<Long, Extent> out = new LinkedHashMap<>(extents);
        extents.clear();
        return out;
    }
}
