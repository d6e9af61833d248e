package jbtrfs.fuse.node;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import jbtrfs.FsException;
import jbtrfs.fs.FsOperations;
import jbtrfs.fs.ScrubProgress;
import jbtrfs.fs.ScrubStatus;
import jbtrfs.fs.Scrubber;
import jbtrfs.fuse.kernel.FuseRequest;
import jbtrfs.fuse.kernel.InArgs;

/**
 * The scrub ioctls (include/uapi/linux/btrfs.h), root only as on the kernel (CAP_SYS_ADMIN, else EPERM):
 * BTRFS_IOC_SCRUB and BTRFS_IOC_SCRUB_PROGRESS on struct btrfs_ioctl_scrub_args (devid, start, end, flags,
 * struct btrfs_scrub_progress, unused; 1024 bytes), BTRFS_IOC_SCRUB_CANCEL.
 *
 * <p>Where jbtrfs differs, deliberately: SCRUB returns at once with the scrub started (the kernel's blocks until it
 * ends, which here would hold a FUSE worker for the whole scrub); SCRUB_PROGRESS answers after the end too, with
 * the final counters (the kernel's answers ENOTCONN), and says in the struct's unused words what btrfs-progs keeps
 * in a status file: unused[0] the state (1 running, 2 finished, 3 canceled, 4 failed), unused[1] how many
 * uncorrectable data errors have paths, unused[2] and [3] the start and end in seconds since the epoch (0 while
 * running), unused[4] 1 for a read-only scrub. JBTRFS_IOC_SCRUB_ERRORS (_IOWR(0x94, 0xf0, 4096 bytes), ours) hands
 * out those paths: in, the index of the first wanted (u64) and the devid (u64, 0: the first device); out, the total (u32), the count in this answer (u32),
 * then that many NUL-terminated UTF-8 lines.
 */
public final class ScrubRequests {
    /** _IOWR(0x94, 27, struct btrfs_ioctl_scrub_args). */
    public static final int BTRFS_IOC_SCRUB = 0xc400941b;
    /** _IO(0x94, 28). */
    public static final int BTRFS_IOC_SCRUB_CANCEL = 0x0000941c;
    /** _IOWR(0x94, 29, struct btrfs_ioctl_scrub_args). */
    public static final int BTRFS_IOC_SCRUB_PROGRESS = 0xc400941d;
    /** _IOWR(0x94, 0xf0, char[4096]): jbtrfs's own, the paths of uncorrectable data errors. */
    public static final int JBTRFS_IOC_SCRUB_ERRORS = 0xd00094f0;
    public static final int ARGS_SIZE = 1024;
    public static final int ERRORS_SIZE = 4096;
    /** BTRFS_SCRUB_READONLY, the only flag the kernel knows. */
    public static final long SCRUB_READONLY = 1;
    static final int OFFSET_PROGRESS = 32;
    static final int OFFSET_UNUSED = OFFSET_PROGRESS + ScrubProgress.FIELDS * 8;

    private final FsOperations ops;

    ScrubRequests(FsOperations ops) {
        this.ops = ops;
    }

    static boolean handles(int cmd) {
        return cmd == BTRFS_IOC_SCRUB || cmd == BTRFS_IOC_SCRUB_CANCEL || cmd == BTRFS_IOC_SCRUB_PROGRESS
                || cmd == JBTRFS_IOC_SCRUB_ERRORS;
    }

    /** Answers one of the commands {@link #handles} (the rest of fuse_ioctl_in is in {@code in}). */
    void ioctl(FuseRequest r, int cmd, InArgs in, int inSize, int outSize) throws FsException {
        if (r.uid() != 0) throw new ReplyError(ReplyError.EPERM);
        Scrubber scrubber = ops.scrubber();
        if (cmd == BTRFS_IOC_SCRUB_CANCEL) {
            scrubber.cancel();
            r.reply(IoctlRequests.reply(r, outSize, 0));
            return;
        }
        if (cmd == JBTRFS_IOC_SCRUB_ERRORS) {
            boolean named = Integer.compareUnsigned(inSize, 16) >= 0; // the devid, where the caller gave one
            ByteBuffer d = IoctlRequests.data(in, inSize, named ? 16 : 8).order(ByteOrder.nativeOrder());
            long devid = named ? d.getLong(8) : 0;
            ScrubStatus s = scrubber.status(devid == 0 ? scrubber.devid() : devid);
            ByteBuffer b = IoctlRequests.reply(r, outSize, ERRORS_SIZE).order(ByteOrder.nativeOrder());
            putErrors(b, s.uncorrectable(), d.getLong(0));
            r.reply(b);
            return;
        }
        ByteBuffer args = IoctlRequests.data(in, inSize, ARGS_SIZE).order(ByteOrder.nativeOrder());
        long devid = args.getLong(0);
        if (cmd == BTRFS_IOC_SCRUB) {
            long flags = args.getLong(24);
            if ((flags & ~SCRUB_READONLY) != 0) throw new ReplyError(ReplyError.EOPNOTSUPP);
            scrubber.start(devid, args.getLong(8), args.getLong(16), (flags & SCRUB_READONLY) != 0);
        }
        ScrubStatus s = scrubber.status(devid);
        ByteBuffer b = IoctlRequests.reply(r, outSize, ARGS_SIZE).order(ByteOrder.nativeOrder());
        int base = b.position();
        b.put(args.duplicate().clear());
        putStatus(b, base, s);
        b.position(base + ARGS_SIZE);
        r.reply(b);
    }

    /** The progress and jbtrfs's words of {@code s} into the args struct at {@code base}. */
    static void putStatus(ByteBuffer b, int base, ScrubStatus s) {
        long[] p = s.progress().toArray();
        for (int i = 0; i < p.length; i++) b.putLong(base + OFFSET_PROGRESS + i * 8, p[i]);
        int u = base + OFFSET_UNUSED;
        b.putLong(u, s.state().ordinal() + 1L);
        b.putLong(u + 8, s.uncorrectable().size());
        b.putLong(u + 16, s.startedMillis() / 1000);
        b.putLong(u + 24, s.endedMillis() / 1000);
        b.putLong(u + 32, s.readOnly() ? 1 : 0);
    }

    /**
     * The scrub an answer of SCRUB or SCRUB_PROGRESS describes (the args struct from {@code b}'s position), with
     * {@code uncorrectable} as its paths (fetched with JBTRFS_IOC_SCRUB_ERRORS).
     */
    public static ScrubStatus decode(ByteBuffer b, List<String> uncorrectable) {
        int base = b.position();
        long[] p = new long[ScrubProgress.FIELDS];
        for (int i = 0; i < p.length; i++) p[i] = b.getLong(base + OFFSET_PROGRESS + i * 8);
        int u = base + OFFSET_UNUSED;
        ScrubStatus.State[] states = ScrubStatus.State.values();
        int state = (int) Math.max(1, Math.min(states.length, b.getLong(u)));
        return new ScrubStatus(states[state - 1], b.getLong(u + 32) == 1, ScrubProgress.of(p), uncorrectable,
                b.getLong(u + 16) * 1000, b.getLong(u + 24) * 1000, null);
    }

    /** How many uncorrectable data errors have paths, as an answer of SCRUB_PROGRESS says. */
    public static long uncorrectablePaths(ByteBuffer b) {
        return b.getLong(b.position() + OFFSET_UNUSED + 8);
    }

    /** As many lines from {@code first} on as fit, after the total and the count. */
    private static void putErrors(ByteBuffer b, List<String> lines, long first) {
        int base = b.position();
        b.putInt(lines.size()).putInt(0);
        int count = 0;
        for (long i = Math.max(0, first); i < lines.size(); i++) {
            byte[] line = lines.get((int) i).getBytes(StandardCharsets.UTF_8);
            if (line.length > ERRORS_SIZE - 9) line = Arrays.copyOf(line, ERRORS_SIZE - 9); // always fits one
            if (b.position() + line.length + 1 > base + ERRORS_SIZE) break;
            b.put(line).put((byte) 0);
            count++;
        }
        b.putInt(base + 4, count);
        while (b.position() < base + ERRORS_SIZE) b.put((byte) 0);
    }
}
