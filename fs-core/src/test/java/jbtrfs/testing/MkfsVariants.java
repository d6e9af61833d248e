package jbtrfs.testing;

import java.util.stream.Stream;

import org.junit.jupiter.params.provider.Arguments;

/** The mkfs.btrfs variants users make: each checksum, node sizes, mixed groups, profiles, feature toggles. */
public final class MkfsVariants {
    private MkfsVariants() {
    }

    /** (name, options) pairs for parameterized tests. */
    public static Stream<Arguments> arguments() {
        return Stream.of(
                Arguments.of("crc32c", new String[0]),
                Arguments.of("xxhash", new String[] {"--csum", "xxhash"}),
                Arguments.of("sha256", new String[] {"--csum", "sha256"}),
                Arguments.of("blake2", new String[] {"--csum", "blake2"}),
                Arguments.of("nodesize-4k", new String[] {"-n", "4096"}),
                Arguments.of("nodesize-64k", new String[] {"-n", "65536"}),
                Arguments.of("mixed", new String[] {"-M", "-n", "4096"}),
                Arguments.of("metadata-single", new String[] {"-m", "single"}),
                Arguments.of("data-dup", new String[] {"-d", "dup"}),
                Arguments.of("no-no-holes", new String[] {"-O", "^no-holes"}),
                Arguments.of("no-free-space-tree", new String[] {"-R", "^free-space-tree"}));
    }
}
