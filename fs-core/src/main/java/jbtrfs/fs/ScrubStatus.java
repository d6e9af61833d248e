package jbtrfs.fs;

import java.util.ArrayList;
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

    /**
     * The scrubs of a set's members as one (what btrfs scrub status shows without -d): counters summed, running while
     * any runs, else failed or canceled if any was, from the first start to the last end; {@code each} not empty.
     */
    public static ScrubStatus ofMembers(List<ScrubStatus> each) {
        ScrubProgress sum = null;
        List<String> paths = new ArrayList<>();
        long started = Long.MAX_VALUE;
        long ended = 0;
        String failure = null;
        boolean readOnly = true;
        for (ScrubStatus s : each) {
            sum = sum == null ? s.progress() : sum.plus(s.progress());
            paths.addAll(s.uncorrectable());
            started = Math.min(started, s.startedMillis());
            ended = Math.max(ended, s.endedMillis());
            if (failure == null) failure = s.failure();
            readOnly &= s.readOnly();
        }
        State state = State.FINISHED;
        for (State worse : List.of(State.RUNNING, State.FAILED, State.CANCELED)) {
            if (each.stream().anyMatch(s -> s.state() == worse)) {
                state = worse;
                break;
            }
        }
        return new ScrubStatus(state, readOnly, sum, paths, started, state == State.RUNNING ? 0 : ended, failure);
    }
}
