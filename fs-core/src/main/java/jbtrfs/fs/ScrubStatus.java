package jbtrfs.fs;

import java.util.List;

/**
 * A scrub as the mount knows it: running or how it ended, its counters, and for each uncorrectable data error the
 * file(s) using the bad sector, one line each ("logical L: path"). {@code failure} says why a FAILED scrub stopped.
 */
public record ScrubStatus(State state, boolean readOnly, ScrubProgress progress, List<String> uncorrectable,
                          long startedMillis, long endedMillis, String failure) {
    /** Where the scrub is. */
    public enum State { RUNNING, FINISHED, CANCELED, FAILED }

    public ScrubStatus {
        uncorrectable = List.copyOf(uncorrectable);
    }
}
