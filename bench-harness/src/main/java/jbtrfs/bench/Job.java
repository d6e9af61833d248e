package jbtrfs.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * One job of the versioned set: a fio job file, or the built-in untar/rm-rf timings. A job whose name ends in
 * "-w" writes. The figure kept is the one that job is about: MiB/s for sequential, IOPS for random, ops/s for
 * metadata, files/s for untar and rm -rf.
 */
record Job(String name, Path fioFile) {
    private static final ObjectMapper JSON = new ObjectMapper();

    boolean writes() { return name.endsWith("-w"); }

    String unit() {
        if (name.startsWith("seq-")) return "MiB/s";
        if (name.startsWith("rand-")) return "IOPS";
        return name.startsWith("metadata-") ? "ops/s" : "files/s";
    }

    /** Runs the job in {@code dir}; saves fio's JSON to {@code json}; returns the job's figure. */
    double run(Path dir, Map<String, String> params, Path json, Path tarball, int tarFiles)
            throws IOException, InterruptedException {
        if (name.equals("untar-w")) {
            long t0 = System.nanoTime();
            Sh.sh("mkdir -p " + dir + "/untar && tar -C " + dir + "/untar -xf " + tarball + " && sync");
            return tarFiles / ((System.nanoTime() - t0) / 1e9);
        }
        if (name.equals("rm-rf-w")) {
            long t0 = System.nanoTime();
            Sh.sh("rm -rf " + dir + "/untar && sync");
            return tarFiles / ((System.nanoTime() - t0) / 1e9);
        }
        if (name.equals("metadata-create-w")) Files.createDirectories(dir.resolve("meta-w"));
        Map<String, String> env = new HashMap<>(params);
        env.put("DIR", dir.toString());
        String out = Sh.run(List.of("fio", "--output-format=json", fioFile.toString()), env);
        Files.writeString(json, out);
        JsonNode job = JSON.readTree(out).get("jobs").get(0);
        JsonNode read = job.get("read");
        JsonNode write = job.get("write");
        JsonNode side = write.get("io_bytes").asLong() > 0 ? write : read;
        return unit().equals("MiB/s") ? side.get("bw").asDouble() / 1024.0 : side.get("iops").asDouble();
    }
}
