package jbtrfs.fs;

/** Which set-ID bits a change by an unprivileged user takes away (≈ the kernel's fs/attr.c rules). */
final class SetIdBits {
    static final int S_ISUID = 04000;
    static final int S_ISGID = 02000;
    static final int S_IXGRP = 00010;

    private SetIdBits() {
    }

    /**
     * The mode bits a write by an unprivileged user clears (setattr_should_drop_suidgid): on regular files,
     * set-user-ID, and set-group-ID where group execute is set or the writer is outside the file's group
     * ({@code callerGroups} not holding {@code gid}; null: a member, FUSE's HANDLE_KILLPRIV_V2 rule).
     */
    static int killedByWrite(int mode, int gid, int[] callerGroups) {
        if ((mode & Stat.S_IFMT) != Stat.S_IFREG) return 0;
        int kill = mode & S_ISUID;
        if ((mode & S_ISGID) != 0 && ((mode & S_IXGRP) != 0 || !member(gid, callerGroups))) kill |= S_ISGID;
        return kill;
    }

    private static boolean member(int gid, int[] groups) {
        if (groups == null) return true;
        for (int g : groups) if (g == gid) return true;
        return false;
    }
}
