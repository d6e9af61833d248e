package jbtrfs.csum;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.Images;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TestImage;

/**
 * Checks {@link NameHash} against the key offsets the kernel wrote: DIR_ITEM and XATTR_ITEM (name hash),
 * INODE_EXTREF (hash seeded with the parent) and keyed EXTENT_DATA_REF items (root/objectid/offset hash).
 */
class KernelNameHashTest {
    private static final Pattern EXTREF = Pattern.compile("^index \\d+ parent (\\d+) namelen (\\d+) name: (.*)$");
    private static final Pattern DATA_REF = Pattern.compile(
            "^extent data backref root (\\S+) objectid (\\d+) offset (\\d+) count \\d+$");

    @TempDir
    static Path dir;
    static TestImage image;
    static List<TestImage.Item> fsTree;
    static List<TestImage.Item> extentTree;

    @BeforeAll
    static void writeImage() throws IOException {
        Images.requireKernelBtrfs();
        image = TestImage.mkfs(dir.resolve("names.img"));
        Path mnt = image.mount("");
        try {
            List<String> names = new ArrayList<>(List.of("default", "f", "a b c", "UPPER.lower", "ünïcødé-名前",
                    ".hidden", "x".repeat(255), "tab\there", "-", "0123456789"));
            for (int i = 0; i < 200; i++) {
                names.add("file-" + i + "-" + Integer.toHexString(i * 7919));
            }
            Path sub = Files.createDirectory(mnt.resolve("sub"));
            // Created by the shell from a UTF-8 list: under LANG=C, Java cannot encode non-ASCII paths itself.
            Path list = dir.resolve("names.txt");
            Files.write(list, String.join("\n", names).concat("\n").getBytes(StandardCharsets.UTF_8));
            Shell.stdout(List.of("sh", "-c", "cd \"$1\" && while IFS= read -r n; do printf %s \"$n\" > \"$n\"; done",
                    "sh", sub.toString()), list);
            UserDefinedFileAttributeView xattrs = Files.getFileAttributeView(sub.resolve("f"),
                    UserDefinedFileAttributeView.class);
            for (String x : List.of("a", "comment", "mime_type", "long-" + "y".repeat(200))) {
                xattrs.write(x, ByteBuffer.wrap(("value of " + x).getBytes(StandardCharsets.UTF_8)));
            }
            // Hard links with long names in one directory overflow the INODE_REF item: INODE_EXTREF follows.
            Path links = Files.createDirectory(mnt.resolve("links"));
            Path target = Files.write(links.resolve("target"), new byte[] {1});
            for (int i = 0; i < 150; i++) {
                String name = String.format("%03d-", i) + "L".repeat(251);
                Files.createLink(links.resolve(name), target);
            }
            // Many references to one data extent: past the inline refs, EXTENT_DATA_REF items get keyed by hash.
            byte[] data = new byte[64 * 1024];
            new Random(1).nextBytes(data);
            Path source = Files.write(mnt.resolve("reflink-source"), data);
            Shell.stdout(List.of("sync"));
            for (int i = 0; i < 60; i++) {
                Shell.stdout(List.of("cp", "--reflink=always", source.toString(),
                        mnt.resolve("reflink-" + i).toString()));
            }
        } finally {
            image.umount();
        }
        fsTree = image.items("5");
        extentTree = image.items("extent");
    }

    @AfterAll
    static void cleanUp() throws IOException {
        if (image != null) {
            image.close();
        }
    }

    @Test
    void dirItemAndXattrKeys_areNameHashes() {
        int dirItems = 0;
        int xattrs = 0;
        for (TestImage.Item item : ofType(fsTree, "DIR_ITEM", "XATTR_ITEM")) {
            List<String> names = item.body().stream().filter(l -> l.startsWith("name: "))
                    .map(l -> l.substring("name: ".length())).toList();
            assertTrue(!names.isEmpty(), "no name in " + item);
            for (String name : names) {
                assertEquals(item.offsetValue(), NameHash.of(name.getBytes(StandardCharsets.UTF_8)),
                        item.type() + " " + name);
            }
            if (item.type().equals("DIR_ITEM")) {
                dirItems += names.size();
            } else {
                xattrs += names.size();
            }
        }
        System.out.printf("name hash: %d DIR_ITEM names, %d XATTR_ITEM names match%n", dirItems, xattrs);
        assertTrue(dirItems >= 400, "DIR_ITEM names checked: " + dirItems);
        assertTrue(xattrs >= 4, "XATTR_ITEM names checked: " + xattrs);
    }

    @Test
    void inodeExtrefKeys_areParentSeededHashes() {
        int checked = 0;
        for (TestImage.Item item : ofType(fsTree, "INODE_EXTREF")) {
            for (String line : item.body()) {
                Matcher m = EXTREF.matcher(line);
                if (!m.find()) {
                    fail("cannot parse INODE_EXTREF line: " + line);
                }
                byte[] name = m.group(3).getBytes(StandardCharsets.UTF_8);
                assertEquals(Integer.parseInt(m.group(2)), name.length);
                assertEquals(item.offsetValue(), NameHash.extref(Long.parseLong(m.group(1)), name),
                        "INODE_EXTREF " + m.group(3));
                checked++;
            }
        }
        System.out.printf("extref hash: %d INODE_EXTREF entries match%n", checked);
        assertTrue(checked >= 50, "INODE_EXTREF entries checked: " + checked);
    }

    @Test
    void extentDataRefKeys_areRootObjectidOffsetHashes() {
        int checked = 0;
        for (TestImage.Item item : ofType(extentTree, "EXTENT_DATA_REF")) {
            Matcher m = DATA_REF.matcher(item.body().get(0));
            if (!m.find()) {
                fail("cannot parse EXTENT_DATA_REF: " + item.body());
            }
            long root = m.group(1).equals("FS_TREE") ? 5 : Long.parseLong(m.group(1));
            assertEquals(item.offsetValue(), NameHash.extentDataRef(root, Long.parseLong(m.group(2)),
                    Long.parseLong(m.group(3))), "EXTENT_DATA_REF " + item.body().get(0));
            checked++;
        }
        System.out.printf("extent data ref hash: %d keyed EXTENT_DATA_REF items match%n", checked);
        assertTrue(checked >= 20, "EXTENT_DATA_REF items checked: " + checked);
    }

    /** The items of {@code tree} whose type is one of {@code types}, in tree order. */
    private static List<TestImage.Item> ofType(List<TestImage.Item> tree, String... types) {
        List<String> wanted = List.of(types);
        return tree.stream().filter(item -> wanted.contains(item.type())).toList();
    }
}
