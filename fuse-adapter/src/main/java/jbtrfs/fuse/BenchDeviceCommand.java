package jbtrfs.fuse;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import jbtrfs.device.bench.DeviceBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code jbtrfs bench-device ...}: the device layer's fio-like load; its flags are DeviceBench's own. */
@Command(name = "bench-device", description = "Benchmark the device layer (--file F --size 1G --rw randwrite "
        + "--bs 4k --qd 32 --seconds 10 [--backend aio|nio]); the last line is JSON.")
final class BenchDeviceCommand implements Callable<Integer> {
    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        return DeviceBench.run(args.toArray(new String[0]), System.out);
    }
}
