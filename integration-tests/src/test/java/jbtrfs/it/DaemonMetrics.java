package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A mount's metrics endpoint ({@code -o metrics=127.0.0.1:PORT}), as tests read it. */
final class DaemonMetrics {
    private static final Pattern COUNT = Pattern.compile("^jbtrfs_fuse_operations_seconds_count\\{op=\"(\\w+)\"} (\\S+)$",
            Pattern.MULTILINE);

    private DaemonMetrics() {
    }

    /** A loopback port free now, for a mount's metrics. */
    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The FUSE requests the daemon on {@code port} has answered so far, by operation ("write", "lookup", ...). */
    static Map<String, Double> requestCounts(int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        Map<String, Double> counts = new HashMap<>();
        Matcher m = COUNT.matcher(r.body());
        while (m.find()) counts.put(m.group(1), Double.parseDouble(m.group(2)));
        return counts;
    }
}
