package jbtrfs.fuse;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code jbtrfs stats MOUNTPOINT}: the live daemon's figures for a person, read from its metrics endpoint, which
 * it finds from the mountpoint alone (the daemon records the address beside its pid).
 */
@Command(name = "stats", description = "Show a live mount's figures (the mount needs -o metrics=PORT).")
final class StatsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MOUNTPOINT")
    Path mountpoint;

    @Override
    public Integer call() throws Exception {
        MountTable.requireJbtrfs(mountpoint);
        DaemonState state = DaemonState.forMountpoint(mountpoint);
        String address = state.readMetrics();
        if (address == null) {
            throw new CliException("metrics are off for " + mountpoint + " (mount it with -o metrics=127.0.0.1:9464)");
        }
        String host = address.contains(":") && address.indexOf(':') != address.lastIndexOf(':')
                ? "[" + address.substring(0, address.lastIndexOf(':')) + "]" + address.substring(address.lastIndexOf(':'))
                : address;
        HttpResponse<String> r;
        try {
            r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build().send(
                    HttpRequest.newBuilder(URI.create("http://" + host + "/metrics")).timeout(Duration.ofSeconds(10))
                            .build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new CliException("cannot reach the daemon's metrics at " + address + ": " + e.getMessage());
        }
        System.out.print(format(r.body()));
        // the gauge says 0 or 1; the daemon recorded the reason beside its pid when it aborted
        String abort = state.readAbort();
        if (abort != null) System.out.println("read-only since " + abort);
        return 0;
    }

    /** The jbtrfs_* figures as "name{labels}  value" rows, without percentiles; JVM figures stay on the endpoint. */
    static String format(String prometheusText) {
        StringBuilder b = new StringBuilder();
        for (String line : prometheusText.split("\n")) {
            if (line.startsWith("#") || line.isBlank()) continue;
            if (!line.startsWith("jbtrfs_") || line.contains("quantile=") || line.contains("_max")) continue;
            int space = line.lastIndexOf(' ');
            String name = line.substring(0, space);
            double v = Double.parseDouble(line.substring(space + 1));
            String value = v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v)
                    : String.format(Locale.ROOT, "%.6g", v);
            b.append(String.format(Locale.ROOT, "%-90s %s%n", name, value));
        }
        return b.toString();
    }
}
