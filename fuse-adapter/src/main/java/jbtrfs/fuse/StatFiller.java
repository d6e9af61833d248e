package jbtrfs.fuse;

import jbtrfs.fs.Stat;
import jbtrfs.fs.StatFs;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.Statvfs;

/** Copies a {@link Stat} into the FUSE stat buffer, times to the nanosecond, and a {@link StatFs} into statvfs. */
final class StatFiller {
    private StatFiller() {
    }

    static void fill(Stat s, FileStat st, int blksize) {
        st.st_ino.set(s.ino());
        st.st_mode.set(s.mode());
        st.st_nlink.set(s.nlink());
        st.st_uid.set(s.uid());
        st.st_gid.set(s.gid());
        st.st_rdev.set(s.rdev());
        st.st_size.set(s.size());
        st.st_blocks.set(s.blocks());
        st.st_blksize.set(blksize);
        st.st_atim.tv_sec.set(s.atime().sec());
        st.st_atim.tv_nsec.set(s.atime().nsec());
        st.st_mtim.tv_sec.set(s.mtime().sec());
        st.st_mtim.tv_nsec.set(s.mtime().nsec());
        st.st_ctim.tv_sec.set(s.ctime().sec());
        st.st_ctim.tv_nsec.set(s.ctime().nsec());
    }

    static void fill(StatFs s, Statvfs stbuf) {
        stbuf.f_bsize.set(s.blockSize());
        stbuf.f_frsize.set(s.blockSize());
        stbuf.f_blocks.set(s.blocks());
        stbuf.f_bfree.set(s.blocksFree());
        stbuf.f_bavail.set(s.blocksAvailable());
        stbuf.f_files.set(s.files());
        stbuf.f_ffree.set(s.filesFree());
        stbuf.f_favail.set(s.filesFree());
        stbuf.f_namemax.set(s.nameMax());
    }
}
