package jbtrfs.csum;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class NameHashTest {
    @Test
    void of_knownDirItemOffsets() {
        // DIR_ITEM key offsets seen in dump-tree of mkfs.btrfs images (docs/btrfs-format.md).
        assertEquals(2378154706L, NameHash.of("default".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(411982631L, NameHash.of("f".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void of_isUnsigned32Bit() {
        for (int i = 0; i < 1000; i++) {
            long h = NameHash.of(("name" + i).getBytes(StandardCharsets.UTF_8));
            assertEquals(h & 0xFFFFFFFFL, h);
        }
    }
}
