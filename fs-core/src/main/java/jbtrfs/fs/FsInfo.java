package jbtrfs.fs;

import java.util.List;

/**
 * A summary of an image for people ({@code jbtrfs info}): what dump-super shows, plus block groups and subvolumes.
 *
 * @param incompatFlags feature names; an unknown bit shows as {@code unknown(0x...)}
 */
public record FsInfo(String label, String fsid, long generation, int nodesize, int sectorsize, String csumType,
                     List<String> compatFlags, List<String> compatRoFlags, List<String> incompatFlags,
                     long totalBytes, long bytesUsed, long numDevices, int superblockCopies,
                     List<BlockGroupSummary> blockGroups, List<SubvolumeSummary> subvolumes,
                     List<Device> devices) {

    /**
     * A device of a multi-device filesystem as its chunk tree's DEV_ITEM says, with the path that serves it
     * ({@code path} null: missing, a degraded mount). Empty for a single-device filesystem.
     */
    public record Device(long devid, String uuid, long totalBytes, long bytesUsed, String path) {
    }

    /** Block groups of one type and profile (e.g. "DATA", "single"). */
    public record BlockGroupSummary(String type, String profile, int count, long totalBytes, long usedBytes) {
    }

    /** A subvolume or snapshot: its tree id, its path from the top level, and whether it is read-only. */
    public record SubvolumeSummary(long id, String path, long generation, boolean readOnly, boolean snapshot) {
    }
}
