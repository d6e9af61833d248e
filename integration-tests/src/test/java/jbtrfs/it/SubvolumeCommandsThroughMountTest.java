package jbtrfs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jbtrfs.testing.BtrfsCheck;
import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;
import jbtrfs.testing.Shell;
import jbtrfs.testing.TreeListing;

/**
 * The {@code jbtrfs subvolume|property|filesystem} commands and the btrfs ioctls under them through a native
 * mount, held to btrfs-progs on the kernel: one script (the commands, then the ioctls called directly from Python
 * with their errnos, as root and as a user) prints the same on a kernel mount with {@code btrfs} as on ours with
 * {@code jbtrfs}; what our
 * list, get-default, property, show (line by line) and df said before the unmount is what the kernel's tools say of our image after it;
 * btrfs check is clean; a sync's changes survive a kill -9 right after it.
 */
class SubvolumeCommandsThroughMountTest {
    /** Run in the mountpoint with $B the tool; each refusal prints its exit status only (the wording differs). */
    private static final String SCRIPT = """
            try() { local r=0; "$@" >/dev/null 2>&1 || r=$?; echo "$* -> $r"; }
            $B subvolume create sv
            seq 1 20000 > sv/f
            $B subvolume snapshot sv snap
            $B subvolume snapshot -r sv rosnap
            echo changed > sv/f
            mkdir d
            $B subvolume create d/inner
            echo inner > d/inner/x
            $B subvolume snapshot d/inner d/inner-snap
            $B subvolume create gone
            $B subvolume delete gone
            $B property get rosnap ro
            $B property set snap ro true
            $B property get snap ro
            try sh -c 'echo x > snap/new'
            $B property set snap ro false
            $B property get snap ro
            echo x > snap/new
            $B subvolume get-default .
            try $B subvolume create sv
            try $B subvolume create d
            try $B subvolume delete d
            try $B subvolume delete missing
            try $B subvolume snapshot rosnap nodir/x
            try setpriv --reuid=1000 --regid=1000 --clear-groups $B subvolume create d/user
            try setpriv --reuid=1000 --regid=1000 --clear-groups $B subvolume delete d/inner
            try setpriv --reuid=1000 --regid=1000 --clear-groups $B property set rosnap ro false
            cat snap/f | md5sum; cat rosnap/f | md5sum; cat sv/f d/inner-snap/x
            python3 "$IOCTLS" user
            ls -a . d
            """;

    /** What our tools say of the state; the same commands with btrfs on the kernel's mount of our image. */
    private static final String STATE = """
            $B subvolume list .
            $B subvolume list -s .
            $B subvolume list -r .
            $B subvolume get-default .
            for s in sv snap rosnap d/inner d/inner-snap; do echo "$s $($B property get $s ro)"; done
            for s in . sv snap rosnap d/inner d/inner-snap; do $B subvolume show $s; done
            $B filesystem df .
            """;

    @TempDir
    Path dir;

    @Test
    void subvolumeCommands_printAsBtrfsProgsOnTheKernel_andTheKernelAgrees_checkClean() throws Exception {
        Jbtrfs.requireNativeMount("the btrfs ioctls");
        Prereq.requireBinary("python3", "apt-get install python3");
        Path ioctls = dir.resolve("btrfs-ioctls.py");
        try (InputStream in = getClass().getResourceAsStream("btrfs-ioctls.py")) {
            Files.copy(in, ioctls);
        }
        // the user the script switches to must reach the mountpoint: @TempDir is private to root
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path kernelImage = Images.mkfs(Files.createDirectory(dir.resolve("kernel")), null, 256);
        String kernel = Images.kernelScript(kernelImage, mnt, "B=btrfs\nIOCTLS=" + ioctls + "\n" + SCRIPT);
        Path image = Images.mkfs(Files.createDirectory(dir.resolve("ours")), null, 256);
        String ours;
        String ourState;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            ours = Shell.sh("B=" + Jbtrfs.launcher() + "\nIOCTLS=" + ioctls + "\n" + SCRIPT, mnt);
            Shell.sh(Jbtrfs.launcher() + " filesystem sync .", mnt);
        }
        assertEquals(kernel, ours.replace(Jbtrfs.launcher().toString(), "btrfs"));
        BtrfsCheck.assertCleanWithData(image, "after the subvolume commands");
        // the figures of a mount at rest: ours read-only, then the kernel's read-only mount of the same image
        try (Jbtrfs m = Jbtrfs.mount(image, mnt)) {
            ourState = Shell.sh("B=" + Jbtrfs.launcher() + "\n" + STATE, mnt);
        }
        assertEquals(Images.withKernelMount(image, mnt, "ro", () -> Shell.sh("B=btrfs\n" + STATE, mnt)), ourState);
        assertTrue(ourState.contains("path d/inner-snap"), ourState);
    }

    @Test
    void filesystemSync_changesSurviveKill9RightAfter() throws Exception {
        Jbtrfs.requireNativeMount("the btrfs ioctls");
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Jbtrfs.mountReadWrite(image, mnt, "-o", "commit=300");
        String pid = Jbtrfs.daemonPid(mnt);
        try {
            Shell.sh(Jbtrfs.launcher() + " subvolume create sv && seq 1 5000 > sv/synced && "
                    + Jbtrfs.launcher() + " filesystem sync . && kill -9 " + pid + "; seq 1 10 > unsynced || true",
                    mnt);
        } finally {
            Jbtrfs.afterKill(mnt, pid);
        }
        BtrfsCheck.assertClean(image, "after kill -9");
        Images.withKernelMount(image, mnt, "ro", () -> {
            assertEquals(Shell.sh("seq 1 5000"), Files.readString(mnt.resolve("sv/synced")));
            assertEquals("ID 256 gen", Shell.sh("btrfs subvolume list .", mnt).substring(0, 10));
            return null;
        });
    }

    @Test
    void subvolumeList_onASubvolumeMount_pathsAsBtrfsProgsPrintsThem() throws Exception {
        Jbtrfs.requireNativeMount("the btrfs ioctls");
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Images.kernelScript(image, mnt, "btrfs subvolume create sv && mkdir sv/d && btrfs subvolume create sv/d/inner"
                + " && btrfs subvolume create other && btrfs subvolume create other/o2 && btrfs subvolume snapshot sv"
                + " snapsv && btrfs subvolume set-default other");
        // below the subvolume asked on, paths start from it; elsewhere from the top level
        String list = "$B subvolume list . && $B subvolume list d/inner && $B subvolume get-default .";
        for (String subvol : new String[] {"sv", "other"}) {
            String kernel = Images.withKernelMount(image, mnt, "ro,subvol=" + subvol, () -> Shell.sh("B=btrfs\n"
                    + list.replace("d/inner", subvol.equals("sv") ? "d/inner" : "o2"), mnt));
            try (Jbtrfs m = Jbtrfs.mount(image, mnt, "-o", "subvol=" + subvol)) {
                assertEquals(kernel, Shell.sh("B=" + Jbtrfs.launcher() + "\n"
                        + list.replace("d/inner", subvol.equals("sv") ? "d/inner" : "o2"), mnt), "subvol=" + subvol);
            }
            assertTrue(kernel.contains(subvol.equals("sv") ? "path d/inner" : "path o2"), kernel);
        }
    }

    /**
     * The top subvolume snapshotted into itself through the mount, then files of each size changed on both sides
     * (the reported case: btrfs check's "owner ref check failed", and missing references once the snapshot's files
     * changed; a one-leaf top tree, as the script above makes, shares no block and missed it): btrfs check is clean
     * with data, and the kernel lists the same files and bytes as our mount did.
     */
    @Test
    void snapshotOfTopIntoTop_thenChangesOnBothSides_checkClean_kernelListsTheSame() throws Exception {
        Jbtrfs.requireNativeMount("the btrfs ioctls");
        Path image = Images.mkfs(dir, null, 256);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Map<String, String> ours;
        try (Jbtrfs m = Jbtrfs.mountReadWrite(image, mnt)) {
            Shell.sh("echo hi > inline && head -c 5000 /dev/urandom > small && head -c 3000000 /dev/urandom > big"
                    + " && mkdir d && for i in $(seq 1 300); do echo file $i > d/f$i; done"
                    + " && " + Jbtrfs.launcher() + " subvolume snapshot . snap >/dev/null"
                    + " && for s in . snap; do echo more >> $s/inline && truncate -s 1000 $s/small && rm $s/d/f5"
                    + " && echo appended >> $s/d/f7 && head -c 8192 /dev/urandom"
                    + " | dd of=$s/big bs=4096 seek=10 conv=notrunc status=none; done", mnt);
            ours = TreeListing.ofMount(mnt);
        }
        BtrfsCheck.assertCleanWithData(image, "after a snapshot of the top subvolume and changes on both sides");
        assertEquals(List.of(), TreeListing.differences(ours, TreeListing.ofKernelMount(image, dir, ""), 10));
    }
}
