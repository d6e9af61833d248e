package jbtrfs.fuse.node;

import jbtrfs.fs.FsOperations;

/** What a family of requests works on: the mount's node table and the filesystem's operations behind it. */
abstract class NodeRequests {
    final Nodes nodes;
    final FsOperations ops;

    NodeRequests(Nodes nodes) {
        this.nodes = nodes;
        this.ops = nodes.ops;
    }
}
