package jbtrfs.fuse.kernel;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test-only FUSE handler over a fixed tree: the root directory (node 1) holding one file, hello.txt (node 2,
 * inode 257). Enough for ls, cat and stat; every other opcode is ENOSYS.
 */
final class FixedTreeHandler extends CountingHandler {
    static final byte[] NAME = "hello.txt".getBytes(StandardCharsets.US_ASCII);
    static final byte[] DATA = "hello from the kernel protocol\n".getBytes(StandardCharsets.US_ASCII);
    /** A name whose LOOKUP waits until the kernel interrupts it (or 30 s pass). */
    static final byte[] SLOW = "slow".getBytes(StandardCharsets.US_ASCII);
    static final long FILE_NODE = 2;
    static final long FILE_INO = 257;
    static final long ROOT_INO = 256;
    /** Names and attributes are cached an hour: only a notification makes the kernel ask again. */
    private static final long CACHE_SECONDS = 3600;
    private static final int ENOENT = 2;
    private static final int ENOSYS = 38;
    private static final int EINTR = 4;

    final AtomicInteger forgets = new AtomicInteger();
    /** LOOKUPs of {@link #SLOW} that ended because the kernel sent INTERRUPT for them. */
    final AtomicInteger interruptedLookups = new AtomicInteger();
    final CountDownLatch slowLookupStarted = new CountDownLatch(1);
    /**
     * The file's owner and whether its name is found: changed behind the kernel's back, then notified (not its
     * size, which a writeback-caching kernel keeps itself).
     */
    volatile int fileUid;
    volatile boolean hidden;

    @Override
    public void handle(FuseRequest r) {
        switch (r.opcode()) {
            case FuseAbi.LOOKUP -> {
                byte[] name = r.in().cstringBytes();
                if (r.nodeId() == 1 && Arrays.equals(name, SLOW)) {
                    lookupUntilInterrupted(r);
                    return;
                }
                if (r.nodeId() != 1 || !Arrays.equals(name, NAME) || hidden) {
                    r.fail(ENOENT);
                    return;
                }
                ByteBuffer b = r.replyBuffer(128);
                entry(b);
                r.reply(b);
            }
            case FuseAbi.GETATTR -> {
                ByteBuffer b = r.replyBuffer(104);
                b.putLong(CACHE_SECONDS).putInt(0).putInt(0);
                attr(b, r.nodeId());
                r.reply(b);
            }
            case FuseAbi.OPEN, FuseAbi.OPENDIR -> {
                ByteBuffer b = r.replyBuffer(16);
                b.putLong(0).putInt(0).putInt(0);
                r.reply(b);
            }
            case FuseAbi.READ -> {
                r.in().u64();
                long offset = r.in().u64();
                int size = r.in().u32();
                int from = (int) Math.min(offset, DATA.length);
                int n = Math.min(size, DATA.length - from);
                ByteBuffer b = r.replyBuffer(n);
                b.put(DATA, from, n);
                r.reply(b);
            }
            case FuseAbi.READDIR, FuseAbi.READDIRPLUS -> {
                // READDIRPLUS_AUTO: the kernel asks for plus first, then may go on with plain READDIR
                boolean plus = r.opcode() == FuseAbi.READDIRPLUS;
                r.in().u64();
                long offset = r.in().u64();
                int size = r.in().u32();
                int recordLength = (plus ? 128 : 0) + 24 + ((NAME.length + 7) & ~7);
                ByteBuffer b = r.replyBuffer(size);
                if (offset == 0 && size >= recordLength) {
                    if (plus) entry(b);
                    b.putLong(FILE_INO).putLong(1).putInt(NAME.length).putInt(8).put(NAME);   // DT_REG
                    while (b.position() % 8 != 0) b.put((byte) 0);
                }
                r.reply(b);
            }
            case FuseAbi.RELEASE, FuseAbi.RELEASEDIR -> r.reply();
            case FuseAbi.FORGET, FuseAbi.BATCH_FORGET -> {
                forgets.incrementAndGet();
                r.noReply();
            }
            default -> r.fail(ENOSYS);
        }
    }

    private void lookupUntilInterrupted(FuseRequest r) {
        slowLookupStarted.countDown();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!r.interrupted() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (r.interrupted()) interruptedLookups.incrementAndGet();
        r.fail(EINTR);
    }

    private void entry(ByteBuffer b) {
        b.putLong(FILE_NODE).putLong(1).putLong(CACHE_SECONDS).putLong(CACHE_SECONDS).putInt(0).putInt(0);
        attr(b, FILE_NODE);
    }

    /** struct fuse_attr of the root or the file. */
    private void attr(ByteBuffer b, long node) {
        boolean root = node == 1;
        b.putLong(root ? ROOT_INO : FILE_INO).putLong(root ? 0 : DATA.length).putLong(root ? 0 : 8);
        b.putLong(1_700_000_000L).putLong(1_700_000_001L).putLong(1_700_000_002L).putInt(0).putInt(0).putInt(0);
        b.putInt(root ? 0040755 : 0100644).putInt(root ? 2 : 1).putInt(root ? 0 : fileUid).putInt(0).putInt(0)
                .putInt(4096).putInt(0);
    }
}
