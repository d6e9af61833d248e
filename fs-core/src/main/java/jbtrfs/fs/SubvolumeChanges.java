package jbtrfs.fs;

import jbtrfs.FsException;
import jbtrfs.format.ObjectIds;

/**
 * The subvolume changes of a read-write mount (the kernel's subvolume ioctls), each committed at once through the
 * {@link WriteGate}, and the cleaner that drops deleted subvolumes in the background.
 */
final class SubvolumeChanges {
    private final WriteGate gate;
    private final XattrWriter xattrs;
    private final SubvolumeWriter subvols;
    private final SubvolumeCleaner cleaner;
    private volatile int cleanerBudget = SubvolumeCleaner.STEP_BLOCKS;

    SubvolumeChanges(WriteGate gate, InodeWriter inodes, NamespaceWriter names, Subvolumes subvolumes,
                     XattrWriter xattrs) {
        this.gate = gate;
        this.xattrs = xattrs;
        this.subvols = new SubvolumeWriter(inodes, names, subvolumes);
        this.cleaner = new SubvolumeCleaner(() -> gate.read(subvolumes::rootTree), id -> gate.committedChange(
                "subvolume drop", false, () -> SubvolumeCleaner.dropStep(inodes, subvols, id, cleanerBudget)));
    }

    SubvolumeCleaner cleaner() { return cleaner; }

    /** Tree blocks each cleaner step drops from now on (tests make them small to cut power between steps). */
    void setCleanerBudget(int blocks) { cleanerBudget = blocks; }

    long create(InodeId parentDir, String name, Caller caller) throws FsException {
        return gate.committedChange("subvolume create", false, () -> {
            long id = subvols.create(parentDir, name, caller);
            // the properties of the parent subvolume's root, not of the directory it is made in (the kernel's)
            xattrs.inheritProperties(new InodeId(parentDir.root(), ObjectIds.FIRST_FREE_DIR),
                    new InodeId(id, ObjectIds.FIRST_FREE_DIR));
            return id;
        });
    }

    long snapshot(long sourceSubvol, InodeId parentDir, String name, boolean readOnly, Caller caller)
            throws FsException {
        // the source as committed is what the snapshot copies: commit what is pending first
        return gate.committedChange("snapshot", true, () -> subvols.snapshot(sourceSubvol, parentDir, name, readOnly,
                caller));
    }

    void delete(InodeId parentDir, String name, Caller caller) throws FsException {
        // the dead tree the cleaner drops is the committed one: what is pending in it goes to disk first
        gate.committedChange("subvolume delete", true, () -> subvols.delete(parentDir, name, caller));
        cleaner.wake();
    }

    void setReadOnly(long subvol, boolean readOnly, Caller caller) throws FsException {
        gate.committedChange("subvolume setflags", false, () -> {
            subvols.setReadOnly(subvol, readOnly, caller);
            return null;
        });
    }

    void setDefault(long subvol, Caller caller) throws FsException {
        gate.committedChange("default subvolume", false, () -> {
            subvols.setDefault(subvol, caller);
            return null;
        });
    }
}
