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

    /** What one run of a job gave: its figure, the operations it made and the CPU seconds its client process used. */
    record Outcome(double figure, double ops, double clientCpu) {
    }

    /** Runs the job in {@code dir}; saves fio's JSON to {@code json}. */
    Outcome run(Path dir, Map<String, String> params, Path json, Path tarball, int tarFiles)
            throws IOException, InterruptedException {
        if (name.equals("untar-w") || name.equals("rm-rf-w")) {
            String cmd = name.equals("untar-w") ? "mkdir -p " + dir + "/untar && tar -C " + dir + "/untar -xf " + tarball
                    : "rm -rf " + dir + "/untar";
            long t0 = System.nanoTime();
            // the CPU of what this shell waited for (cutime and cstime, in ticks of 1/100 s): tar or rm, and sync
            String ticks = Sh.sh(cmd + " && sync && awk '{ print $16 + $17 }' /proc/$$/stat");
            double seconds = (System.nanoTime() - t0) / 1e9;
            return new Outcome(tarFiles / seconds, tarFiles, Double.parseDouble(ticks.trim()) / 100.0);
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
        double figure = unit().equals("MiB/s") ? side.get("bw").asDouble() / 1024.0 : side.get("iops").asDouble();
        // fio gives its CPU as percentages of the job's runtime
        double cpu = (job.get("usr_cpu").asDouble() + job.get("sys_cpu").asDouble()) / 100.0
                * job.get("job_runtime").asDouble() / 1000.0;
        return new Outcome(figure, read.get("total_ios").asDouble() + write.get("total_ios").asDouble(), cpu);
    }
}
