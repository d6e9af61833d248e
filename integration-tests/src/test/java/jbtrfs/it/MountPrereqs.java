package jbtrfs.it;

import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import jbtrfs.testing.Images;
import jbtrfs.testing.Prereq;

/**
 * The skips a test class that mounts through FUSE declares once ({@code @ExtendWith(MountPrereqs.X.class)}) instead
 * of a {@code @BeforeEach} of its own; each runs before every test and prints why it skips.
 */
final class MountPrereqs {
    private MountPrereqs() {
    }

    /** FUSE: a mount through our daemon. */
    static final class Fuse implements BeforeEachCallback {
        @Override
        public void beforeEach(ExtensionContext context) {
            Prereq.requireFuse();
        }
    }

    /** FUSE, and a kernel with btrfs, mkfs.btrfs, root and loop devices: to compare with the kernel's mount. */
    static final class FuseAndKernelBtrfs implements BeforeEachCallback {
        @Override
        public void beforeEach(ExtensionContext context) {
            Prereq.requireFuse();
            Images.requireKernelBtrfs();
        }
    }

    /** FUSE, root and loop devices: for images the kernel wrote. */
    static final class FuseAndLoop implements BeforeEachCallback {
        @Override
        public void beforeEach(ExtensionContext context) {
            Prereq.requireFuse();
            Images.requireRootAndLoop();
        }
    }
}
