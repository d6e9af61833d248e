package jbtrfs.volumes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jbtrfs.device.BlockDevice;
import jbtrfs.device.FaultPlan;
import jbtrfs.device.IoBatch;
import jbtrfs.device.IoRequest;
import jbtrfs.device.MemoryBlockDevice;

/**
 * The flush of a set's members (a commit's, around its superblocks) runs on every member at once: the second
 * member's flush is queued while the first one's is still in flight (each takes 3 s here), not after it ends.
 */
class VolumeFlushTest {
    @Test
    void flushOfTwoMembers_eachQueuedWhileTheOtherIsInFlight() throws Exception {
        List<IoBatch> queued = new CopyOnWriteArrayList<>();
        List<Boolean> earlierDone = new CopyOnWriteArrayList<>();
        FlushWatch watch = batch -> {
            // with one flush after another, the flush queued earlier has ended by now
            for (IoBatch before : queued) {
                earlierDone.add(before.futures().stream().allMatch(CompletableFuture::isDone));
            }
            queued.add(batch);
        };
        Map<Long, BlockDevice> members = new TreeMap<>();
        for (long devid = 1; devid <= 2; devid++) {
            members.put(devid, watching(MemoryBlockDevice.create(new byte[1 << 20], 8,
                    FaultPlan.none().latency(Duration.ofSeconds(3), Duration.ZERO), devid, new SimpleMeterRegistry()),
                    watch));
        }
        new Volume(1, members, new ChunkMap()).flush();
        assertEquals(2, queued.size(), "flushes queued, one per member");
        assertEquals(List.of(false), earlierDone, "whether the first member's flush had ended when the second's was queued");
        for (IoBatch b : queued) {
            assertTrue(b.futures().stream().allMatch(CompletableFuture::isDone), "the volume's flush returned early");
        }
    }

    /** What a watched member reports: the batch of a flush just queued on it. */
    private interface FlushWatch {
        void queued(IoBatch batch);
    }

    /** {@code device}, telling {@code watch} of every flush queued on it. */
    private static BlockDevice watching(BlockDevice device, FlushWatch watch) {
        return (BlockDevice) Proxy.newProxyInstance(BlockDevice.class.getClassLoader(),
                new Class<?>[] {BlockDevice.class}, (proxy, method, args) -> {
                    Object out;
                    try {
                        out = method.invoke(device, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (method.getName().equals("submit") && args[0] instanceof List<?> list
                            && list.stream().anyMatch(r -> ((IoRequest) r).op() == IoRequest.Op.FLUSH)) {
                        watch.queued((IoBatch) out);
                    }
                    return out;
                });
    }
}
