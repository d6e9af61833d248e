package jbtrfs.fuse;

import org.slf4j.LoggerFactory;

/**
 * slf4j-simple settings, made before the first logger exists: timestamps; level from JBTRFS_LOG, else info for a
 * serving daemon and warn for short commands (whose output is for people).
 */
final class Logging {
    private Logging() {
    }

    static void configure(boolean daemon) {
        setDefault("org.slf4j.simpleLogger.showDateTime", "true");
        setDefault("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSS");
        setDefault("org.slf4j.simpleLogger.showShortLogName", "true");
        setDefault("org.slf4j.simpleLogger.logFile", "System.err");
        String level = System.getenv("JBTRFS_LOG");
        setDefault("org.slf4j.simpleLogger.defaultLogLevel", level != null ? level : daemon ? "info" : "warn");
    }

    /**
     * Sets slf4j up on another thread: slf4j-simple's date format loads the JDK's locale data, a fifth of a mount's
     * time before INIT, which the daemon's main thread spends meanwhile on its arguments and its native libraries.
     * A logger asked for before it is done waits for it (slf4j's own initialisation lock).
     */
    static void startInBackground() {
        Thread t = new Thread(LoggerFactory::getILoggerFactory, "jbtrfs-log-init");
        t.setDaemon(true);
        t.start();
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null) System.setProperty(key, value);
    }
}
