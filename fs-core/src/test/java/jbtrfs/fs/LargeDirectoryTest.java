package jbtrfs.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import jbtrfs.testing.Images;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A directory of 100,000 entries lists completely through paged readdir, each offset resuming after its entry. */
class LargeDirectoryTest {
    private static final int ENTRIES = 100_000;

    @TempDir
    Path tmp;

    @Test
    void readdir_pagesThrough100kEntries() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/big"));
        for (int i = 0; i < ENTRIES; i++) Files.createFile(src.resolve("entry-" + i));
        Path image = Images.mkfs(tmp, tmp.resolve("src"), 512);
        try (Filesystem fs = Filesystem.open(image, MountOptions.readOnlyDefaults())) {
            FsOperations ops = fs.operations();
            InodeId dir = ops.resolve("/big");
            Set<String> names = new HashSet<>();
            long offset = 0;
            long lastOffset = -1;
            int pages = 0;
            List<DirEntry> page;
            while (!(page = ops.readdir(dir, offset, 997)).isEmpty()) {
                for (DirEntry d : page) {
                    assertTrue(d.offset() > lastOffset, "offsets increase");
                    lastOffset = d.offset();
                    assertTrue(names.add(d.name()), "listed once: " + d.name());
                }
                offset = page.get(page.size() - 1).offset();
                pages++;
            }
            assertEquals(ENTRIES, names.size());
            assertTrue(pages > 100);
            // resuming from an entry's offset continues right after it
            List<DirEntry> first = ops.readdir(dir, 0, 3);
            assertEquals(first.get(1), ops.readdir(dir, first.get(0).offset(), 1).get(0));
            assertEquals(ops.stat(dir).size(), names.stream().mapToLong(n -> n.length() * 2L).sum(),
                    "i_size of a directory is twice the sum of its name lengths");
        }
    }
}
