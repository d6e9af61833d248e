package jbtrfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * fs-core's packages sort from the format up to the filesystem: a package may use its own level and those below,
 * never one above, so that each layer can be read and tested without the ones over it. An import, static import
 * or inline fully-qualified name that points up fails, naming the file, the line and the reference.
 */
class PackageOrderTest {
    /**
     * The level of each package: the root package (the exceptions) and the device module at the bottom, usable by
     * all; format, csum and compress share a level.
     */
    static final Map<String, Integer> LEVELS = Map.ofEntries(Map.entry("", 0), Map.entry("device", 0),
            Map.entry("format", 1), Map.entry("csum", 1), Map.entry("compress", 1), Map.entry("volumes", 2),
            Map.entry("ctree", 3), Map.entry("alloc", 4), Map.entry("spacecache", 5), Map.entry("tx", 6),
            Map.entry("fs", 7));

    private static final Pattern PACKAGE = Pattern.compile("^package\\s+jbtrfs(?:\\.([a-z][a-z0-9_]*))?\\s*;",
            Pattern.MULTILINE);
    /** A use of a named subpackage: {@code jbtrfs.tx.} (a root-package class is {@code jbtrfs.Upper}). */
    private static final Pattern REFERENCE = Pattern.compile("\\bjbtrfs\\s*\\.\\s*([a-z][a-z0-9_]*)\\s*\\.");

    @Test
    void mainSources_importNothingAboveTheirPackage() throws IOException {
        Path root = Path.of("src", "main", "java", "jbtrfs");
        assertTrue(Files.isDirectory(root), "run from fs-core's directory: no " + root.toAbsolutePath());
        List<String> violations = new ArrayList<>();
        int files = 0;
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                files++;
                violations.addAll(violations(p.toString(), Files.readString(p)));
            }
        }
        assertTrue(files > 100, "found only " + files + " source files under " + root);
        assertTrue(violations.isEmpty(), () -> "uses that point up the package order (format, csum, compress -> "
                + "volumes -> ctree -> alloc -> spacecache -> tx -> fs):\n" + String.join("\n", violations));
    }

    @Test
    void checker_namesAnUpwardImport_withFileAndLine() {
        String src = "package jbtrfs.format;\n\nimport java.util.List;\nimport jbtrfs.fs.Timespec;\n";
        assertEquals(List.of("InodeItem.java:4: jbtrfs.format uses jbtrfs.fs: import jbtrfs.fs.Timespec;"),
                violations("InodeItem.java", src));
    }

    @Test
    void checker_namesStaticImportsAndInlineQualifiedNames() {
        String src = "package jbtrfs.ctree;\nimport static jbtrfs.alloc.BlockGroups.MIN;\nclass X {\n"
                + "    jbtrfs.tx.Transaction t;\n    Object o = jbtrfs . spacecache . SpaceCachePages.MIN_GROUP;\n}\n";
        List<String> v = violations("X.java", src);
        assertEquals(3, v.size(), v.toString());
        assertTrue(v.get(0).startsWith("X.java:2: jbtrfs.ctree uses jbtrfs.alloc"), v.get(0));
        assertTrue(v.get(1).startsWith("X.java:4: jbtrfs.ctree uses jbtrfs.tx"), v.get(1));
        assertTrue(v.get(2).startsWith("X.java:5: jbtrfs.ctree uses jbtrfs.spacecache"), v.get(2));
    }

    @Test
    void checker_allowsDownwardSameLevelAndRootUses_andIgnoresCommentsAndStrings() {
        String src = "package jbtrfs.tx;\nimport jbtrfs.FsException;\nimport jbtrfs.ctree.BTree;\n"
                + "import jbtrfs.device.BlockDevice;\n/** See {@link jbtrfs.fs.Filesystem}. */\nclass X {\n"
                + "    // jbtrfs.fs.WritableOperations calls this\n    /* jbtrfs.fs.X */ String s = \"jbtrfs.fs.Y\";\n"
                + "    String t = \"\"\"\n        jbtrfs.fs.Z\n        \"\"\";\n    char c = '\"'; jbtrfs.alloc.BlockGroup g;\n}\n";
        assertEquals(List.of(), violations("X.java", src));
        assertEquals(List.of(), violations("C.java", "package jbtrfs.compress;\nimport jbtrfs.format.Features;\n"));
        assertEquals(List.of(), violations("F.java", "package jbtrfs.format;\nimport jbtrfs.csum.Crc32c;\n"));
    }

    @Test
    void checker_namesAPackageOutsideTheOrder() {
        assertEquals(List.of("N.java:1: jbtrfs.scrub is not in the package order (PackageOrderTest.LEVELS)"),
                violations("N.java", "package jbtrfs.scrub;\nimport jbtrfs.format.Key;\n"));
        assertEquals(List.of("Y.java:2: jbtrfs.fs uses jbtrfs.scrub, which is not in the package order"
                + " (PackageOrderTest.LEVELS)"), violations("Y.java", "package jbtrfs.fs;\nimport jbtrfs.scrub.Z;\n"));
    }

    /** The references in {@code source} that point above its own package, one line each. */
    static List<String> violations(String file, String source) {
        String code = codeOnly(source);
        Matcher pm = PACKAGE.matcher(code);
        if (!pm.find()) return List.of(file + ": no package jbtrfs declaration");
        String own = pm.group(1) == null ? "" : pm.group(1);
        Integer ownLevel = LEVELS.get(own);
        if (ownLevel == null) {
            return List.of(file + ":" + line(code, pm.start()) + ": jbtrfs." + own
                    + " is not in the package order (PackageOrderTest.LEVELS)");
        }
        List<String> out = new ArrayList<>();
        Matcher m = REFERENCE.matcher(code);
        while (m.find()) {
            String used = m.group(1);
            Integer level = LEVELS.get(used);
            if (level != null && level <= ownLevel) continue;
            int ln = line(code, m.start());
            String where = file + ":" + ln + ": " + name(own) + " uses jbtrfs." + used;
            out.add(level == null ? where + ", which is not in the package order (PackageOrderTest.LEVELS)"
                    : where + ": " + source.lines().skip(ln - 1).findFirst().orElse("").strip());
        }
        return out;
    }

    private static String name(String pkg) {
        return pkg.isEmpty() ? "jbtrfs" : "jbtrfs." + pkg;
    }

    private static int line(String s, int index) {
        int n = 1;
        for (int i = 0; i < index; i++) if (s.charAt(i) == '\n') n++;
        return n;
    }

    /** {@code source} with comments and string, text block and char literals blanked (line breaks kept). */
    static String codeOnly(String source) {
        StringBuilder b = new StringBuilder(source);
        int i = 0;
        int n = b.length();
        while (i < n) {
            char c = b.charAt(i);
            String end;
            if (c == '/' && i + 1 < n && b.charAt(i + 1) == '/') end = "\n";
            else if (c == '/' && i + 1 < n && b.charAt(i + 1) == '*') end = "*/";
            else if (source.startsWith("\"\"\"", i)) end = "\"\"\"";
            else if (c == '"') end = "\"";
            else if (c == '\'') end = "'";
            else {
                i++;
                continue;
            }
            int from = i;
            i += end.equals("\"\"\"") ? 3 : end.equals("\n") || end.equals("*/") ? 2 : 1;
            boolean literal = !end.equals("\n") && !end.equals("*/");
            while (i < n && !source.startsWith(end, i)) i += literal && b.charAt(i) == '\\' ? 2 : 1;
            i = Math.min(n, i + (end.equals("\n") ? 0 : end.length()));
            for (int k = from; k < i; k++) if (b.charAt(k) != '\n') b.setCharAt(k, ' ');
        }
        return b.toString();
    }
}
