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

/** The results of one run: a Markdown table with ratios and PNG charts (XChart). */
final class Report {
    /** figures.get(job).get(target): the job's figure, or null for n/a. */
    private final Map<String, Map<String, Double>> figures = new LinkedHashMap<>();
    private final Map<String, String> units = new LinkedHashMap<>();

    void put(Job job, String target, Double value) {
        units.put(job.name(), job.unit());
        figures.computeIfAbsent(job.name(), j -> new LinkedHashMap<>()).put(target, value);
    }

    String markdown(List<String> targets, String header) {
        StringBuilder b = new StringBuilder(header).append("\n\n| job | unit |");
        for (String t : targets) b.append(' ').append(t).append(" |");
        b.append(" jbtrfs/kernel | jbtrfs/fuse2fs |\n|---|---|");
        b.append("---|".repeat(targets.size() + 2)).append('\n');
        for (Map.Entry<String, Map<String, Double>> e : figures.entrySet()) {
            b.append("| ").append(e.getKey()).append(" | ").append(units.get(e.getKey())).append(" |");
            for (String t : targets) b.append(' ').append(num(e.getValue().get(t))).append(" |");
            b.append(' ').append(ratio(e.getValue(), "jbtrfs", "kernel")).append(" | ")
                    .append(ratio(e.getValue(), "jbtrfs", "fuse2fs")).append(" |\n");
        }
        return b.toString();
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
