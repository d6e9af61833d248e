package jbtrfs.fuse.kernel;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;

/** Logs each kind of trouble once per session: a kernel or a handler repeating it must not flood the log. */
final class OnceLog {
    private final Set<String> seen = ConcurrentHashMap.newKeySet();

    void warn(Logger log, String kind, String message) {
        if (seen.add(kind)) log.warn("{} (logged once)", message);
    }

    void error(Logger log, String kind, String message, Throwable t) {
        if (seen.add(kind)) log.error("{} (logged once)", message, t);
    }
}
