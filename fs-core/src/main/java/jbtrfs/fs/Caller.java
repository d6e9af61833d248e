package jbtrfs.fs;

/**
 * Who asks for a subvolume operation (an ioctl's sender): the kernel's permission rules in fs/btrfs/ioctl.c are
 * checked against it. Root stands for the capabilities those rules ask for (CAP_SYS_ADMIN, CAP_FOWNER).
 *
 * @param groups the fsgid and supplementary groups, as {@link FsOperations#killSuidSgid(InodeId, int[])} takes them
 */
public record Caller(int uid, int gid, int[] groups) {

    public boolean root() { return uid == 0; }

    /** Whether the caller is in group {@code gid} (its own or a supplementary one). */
    public boolean inGroup(int group) {
        if (group == gid) return true;
        for (int g : groups) if (g == group) return true;
        return false;
    }
}
