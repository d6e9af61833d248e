package jbtrfs.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * The results of one run: a Markdown table of the figures with ratios (each FUSE side to the kernel's, jbtrfs to
 * the other FUSE sides), one of what each operation cost (CPU microseconds of the client and of the daemon, FUSE
 * requests), and PNG charts (XChart).
 */
final class Report {
    /** figures.get(job).get(target): the job's figure, or null for n/a. */
    private final Map<String, Map<String, Double>> figures = new LinkedHashMap<>();
    private final Map<String, Map<String, Cost>> costs = new LinkedHashMap<>();
    private final Map<String, String> units = new LinkedHashMap<>();

    /** Per operation of a job: CPU microseconds of the client and of the daemon, FUSE requests (NaN: none, or not counted). */
    record Cost(double clientUs, double daemonUs, double requests) {
    }

    void put(Job job, String target, Double value) {
        units.put(job.name(), job.unit());
        figures.computeIfAbsent(job.name(), j -> new LinkedHashMap<>()).put(target, value);
    }

    void put(Job job, String target, Job.Outcome outcome, double daemonCpu, long requests) {
        put(job, target, outcome.figure());
        double ops = Math.max(1, outcome.ops());
        costs.computeIfAbsent(job.name(), j -> new LinkedHashMap<>()).put(target, new Cost(
                outcome.clientCpu() * 1e6 / ops, daemonCpu * 1e6 / ops, requests < 0 ? Double.NaN : requests / ops));
    }

    String markdown(List<String> targets, String header) {
        List<String[]> ratios = new ArrayList<>();
        for (String t : targets) if (!t.equals("kernel")) ratios.add(new String[] {t, "kernel"});
        for (String t : targets) {
            if (!t.equals("kernel") && !t.equals("jbtrfs")) ratios.add(new String[] {"jbtrfs", t});
        }
        StringBuilder b = new StringBuilder(header).append("\n\n| job | unit |");
        for (String t : targets) b.append(' ').append(t).append(" |");
        for (String[] r : ratios) b.append(' ').append(r[0]).append('/').append(r[1]).append(" |");
        b.append("\n|---|---|").append("---|".repeat(targets.size() + ratios.size())).append('\n');
        for (Map.Entry<String, Map<String, Double>> e : figures.entrySet()) {
            b.append("| ").append(e.getKey()).append(" | ").append(units.get(e.getKey())).append(" |");
            for (String t : targets) b.append(' ').append(num(e.getValue().get(t))).append(" |");
            for (String[] r : ratios) b.append(' ').append(ratio(e.getValue(), r[0], r[1])).append(" |");
            b.append('\n');
        }
        b.append("\nCost per operation (a file for untar and rm -rf, an I/O or a file for fio): CPU microseconds of ")
                .append("the client (fio, tar, rm: their system time holds the kernel's Btrfs) + of the FUSE daemon, ")
                .append("and the FUSE requests jbtrfs answered (its meters).\n\n| job |");
        for (String t : targets) b.append(' ').append(t).append(" CPU µs |");
        for (String t : targets) if (counted(t)) b.append(' ').append(t).append(" requests |");
        b.append("\n|---|").append("---|".repeat(targets.size()
                + (int) targets.stream().filter(this::counted).count())).append('\n');
        for (Map.Entry<String, Map<String, Cost>> e : costs.entrySet()) {
            b.append("| ").append(e.getKey()).append(" |");
            for (String t : targets) {
                Cost c = e.getValue().get(t);
                b.append(' ').append(c == null ? "n/a" : cpu(c)).append(" |");
            }
            for (String t : targets) {
                if (!counted(t)) continue;
                Cost c = e.getValue().get(t);
                b.append(' ').append(c == null || Double.isNaN(c.requests()) ? "n/a"
                        : String.format(Locale.ROOT, "%.1f", c.requests())).append(" |");
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** Whether the FUSE requests of {@code target} were counted in any job. */
    private boolean counted(String target) {
        return costs.values().stream().anyMatch(m -> m.containsKey(target) && !Double.isNaN(m.get(target).requests()));
    }

    private static String cpu(Cost c) {
        String client = String.format(Locale.ROOT, "%.0f", c.clientUs());
        return Double.isNaN(c.daemonUs()) ? client : client + " + " + String.format(Locale.ROOT, "%.0f", c.daemonUs());
    }

    /** One bar group per job: each filesystem's figure relative to the kernel's (kernel = 1). */
    void chart(List<String> targets, Path png) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(500)
                .title("jbtrfs bench (relative to the kernel's Btrfs = 1.0)").xAxisTitle("job")
                .yAxisTitle("ratio").build();
        chart.getStyler().setXAxisLabelRotation(30);
        List<String> jobs = new ArrayList<>();
        for (Map.Entry<String, Map<String, Double>> e : figures.entrySet()) {
            if (e.getValue().get("kernel") != null) jobs.add(e.getKey());
        }
        for (String t : targets) {
            List<Double> ys = new ArrayList<>();
            for (String j : jobs) {
                Double v = figures.get(j).get(t);
                ys.add(v == null ? 0.0 : v / figures.get(j).get("kernel"));
            }
            if (!jobs.isEmpty()) chart.addSeries(t, jobs, ys);
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static String ratio(Map<String, Double> row, String a, String b) {
        Double x = row.get(a);
        Double y = row.get(b);
        return x == null || y == null || y == 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", x / y);
    }

    private static String num(Double v) {
        if (v == null) return "n/a";
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v);
    }

    static void write(Path file, String text) throws IOException {
        Files.writeString(file, text);
    }
}
