package jbtrfs;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * Test methods in every module follow one style, {@code subject_behaviour}: lowerCamel clauses joined by underscores
 * ({@code unlinkOfOpenFile_keepsDataUntilRelease}). A name in snake_case ({@code open_refuses_missing_image}) fails,
 * naming the file and the method.
 */
class TestNamesTest {
    /** A test annotation, further annotations, then the method's name. */
    private static final Pattern TEST_METHOD = Pattern.compile("@(?:Test|ParameterizedTest|RepeatedTest|TestFactory)"
            + "\\b[^\\n]*\\n(?:\\s*@[^\\n]*\\n)*\\s*(?:public\\s+|static\\s+)*\\S+\\s+(\\w+)\\s*\\(");
    private static final Pattern CLAUSES = Pattern.compile("[a-z][A-Za-z0-9]*(?:_[a-z0-9][A-Za-z0-9]*)+");

    @Test
    void everyModulesTests_useSubjectBehaviourNames() throws IOException {
        Path root = Path.of("..").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(root.resolve("fs-core/pom.xml")), "run from fs-core's directory: " + root);
        List<String> wrong = new ArrayList<>();
        int methods = 0;
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.filter(TestNamesTest::isTestSource).sorted().toList()) {
                Matcher m = TEST_METHOD.matcher(Files.readString(p));
                while (m.find()) {
                    methods++;
                    if (!wellNamed(m.group(1))) wrong.add(root.relativize(p) + ": " + m.group(1));
                }
            }
        }
        assertTrue(methods > 400, "found only " + methods + " test methods under " + root);
        assertTrue(wrong.isEmpty(), () -> "test methods not named subject_behaviour in lowerCamel clauses:\n"
                + String.join("\n", wrong));
    }

    @Test
    void checker_refusesSnakeCase_andAcceptsLowerCamelClauses() {
        assertTrue(wellNamed("unlinkOfOpenFile_keepsDataUntilRelease"));
        assertTrue(wellNamed("fsxDefaults_100000Operations_unmountClean_checkClean"));
        assertTrue(wellNamed("decompress_concurrentThreads_agree"));
        assertFalse(wellNamed("open_refuses_missing_image"));
        assertFalse(wellNamed("vectors_match_published_values_atAnOffset"));
        assertFalse(wellNamed("readsEverything"));
        assertFalse(wellNamed("Read_everything"));
    }

    private static boolean isTestSource(Path p) {
        String s = p.toString().replace('\\', '/');
        return s.endsWith(".java") && s.contains("/src/test/java/") && !s.contains("/target/");
    }

    /**
     * lowerCamel clauses joined by underscores; four or more clauses of which at most one has a capital letter are
     * words joined by underscores (snake_case), not clauses.
     */
    static boolean wellNamed(String name) {
        if (!CLAUSES.matcher(name).matches()) return false;
        String[] clauses = name.split("_");
        long camel = Stream.of(clauses).filter(c -> !c.equals(c.toLowerCase(Locale.ROOT))).count();
        return clauses.length < 4 || camel > 1;
    }
}
