# The btrfs ioctls called directly, as programs written against include/uapi/linux/btrfs.h call them: each line
# prints what came back (an errno's name or ok, and the fields that do not differ between two images), so that
# the kernel's Btrfs and a jbtrfs mount can be compared line by line. Run in the mountpoint after
# SubvolumeCommandsThroughMountTest's script; with an argument, the last part runs as uid/gid 1000.
import errno, fcntl, os, struct, sys
def ioc(d, nr, size): return d << 30 | size << 16 | 0x94 << 8 | nr
SUBVOL_CREATE_V2 = ioc(1, 24, 4096); SNAP_CREATE_V2 = ioc(1, 23, 4096); SNAP_DESTROY_V2 = ioc(1, 63, 4096)
GETFLAGS = ioc(2, 25, 8); SETFLAGS = ioc(1, 26, 8); DEFAULT = ioc(1, 19, 8); INFO = ioc(2, 60, 504)
INO_LOOKUP = ioc(3, 18, 4096); SEARCH = ioc(3, 17, 4096); SYNC = ioc(0, 8, 0)
def call(path, cmd, buf):
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, cmd, buf) if buf is not None else fcntl.ioctl(fd, cmd)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(fd)
def vol(name, fd=0, flags=0):
    b = bytearray(4096); struct.pack_into("<qQQ", b, 0, fd, 0, flags); b[56:56 + len(name)] = name; return b
def u64(v=0): return bytearray(struct.pack("<Q", v))
def info(path):
    b = bytearray(504); r = call(path, INFO, b)
    tree, = struct.unpack_from("<Q", b, 0); name = bytes(b[8:264]).split(b"\0")[0].decode()
    parent, dirid, gen, flags = struct.unpack_from("<4Q", b, 264)
    return r, tree, name, parent, dirid, flags, bytes(b[296:312]), bytes(b[312:328])
for name in [b"sv", b".", b"..", b"a/b", b"", b"x" * 256]:
    print("create", name[:8], call(".", SUBVOL_CREATE_V2, vol(name)))
print("create ro-flag", call(".", SUBVOL_CREATE_V2, vol(b"cr", flags=1 << 3)))
for name in [b"d", b"missing", b".", b"", b"a/b"]:
    print("destroy", name, call(".", SNAP_DESTROY_V2, vol(name)))
src = os.open("rosnap", os.O_RDONLY)
print("snap from fd", call("d", SNAP_CREATE_V2, vol(b"s2", src, 1 << 1)))
print("snap bad fd", call("d", SNAP_CREATE_V2, vol(b"s3", 9999)))
os.close(src)
b = u64(); print("getflags rosnap", call("rosnap", GETFLAGS, b), struct.unpack("<Q", b)[0])
b = u64(); print("getflags d/s2", call("d/s2", GETFLAGS, b), struct.unpack("<Q", b)[0])
b = u64(); print("getflags file", call("sv/f", GETFLAGS, b), struct.unpack("<Q", b)[0])
print("setflags non-root inode", call("d", SETFLAGS, u64(2)))
print("setflags unknown", call("d/s2", SETFLAGS, u64(4)))
print("setflags rw", call("d/s2", SETFLAGS, u64(0)))
print("default missing", call(".", DEFAULT, u64(4000)))
r, tree, name, parent, dirid, flags, uuid, puuid = info("d/s2")
_, rtree, _, _, _, _, ruuid, rpuuid = info("rosnap")
_, stree, sname, sparent, sdirid, _, suuid, spuuid = info("sv")
_, ttree, tname, tparent, tdirid, tflags, tuuid, tpuuid = info(".")
print("info d/s2", r, name, parent == 5, dirid, flags, puuid == rpuuid == suuid)
print("info sv", sname, sparent, sdirid, spuuid == bytes(16), suuid != bytes(16))
print("info top", ttree, repr(tname), tparent, tdirid, tflags)
for tree, obj in [(0, 256), (5, 257), (5, 9999)]:
    b = bytearray(4096); struct.pack_into("<QQ", b, 0, tree, obj)
    r = call("d", INO_LOOKUP, b)
    print("ino_lookup", tree, obj, r, struct.unpack_from("<Q", b, 0)[0], bytes(b[16:80]).split(b"\0")[0])
def search(v2, bufsize, nr=4096):
    # the root tree's ROOT_BACKREFs (subvolume, parent): deleted subvolumes have none, whatever the cleaner did
    key = struct.pack("<7Q4I4Q", 1, 256, (1 << 64) - 256, 0, (1 << 64) - 1, 0, (1 << 64) - 1, 144, 144, nr, 0,
                      0, 0, 0, 0)
    b = bytearray(key + (struct.pack("<Q", bufsize) + bytes(bufsize) if v2 else bytes(4096 - len(key))))
    r = call(".", ioc(3, 17, 112) if v2 else SEARCH, b)
    n = struct.unpack_from("<I", b, 64)[0]
    at, refs = 112 if v2 else 104, []
    for _ in range(n if r == "ok" else 0):
        _, obj, off, typ, ln = struct.unpack_from("<3Q2I", b, at)
        refs.append((obj, typ, off)); at += 32 + ln
    return r, n, [x for x in refs if x[1] == 144]
print("tree_search", search(False, 0)[0::2])
print("tree_search_v2", search(True, 65536)[0::2])
print("tree_search_v2 two", search(True, 65536, 2)[:2])
print("tree_search_v2 small", search(True, 40)[0])
for asked in [0, 1, 7, 15]:
    # FS_INFO is _IOR yet reads the flags asked for; the generations of two images differ, so only whether set
    b = bytearray(1024); struct.pack_into("<Q", b, 48, asked)
    r = call(".", ioc(2, 31, 1024), b)
    max_id, ndev = struct.unpack_from("<2Q", b, 0)
    fields = struct.unpack_from("<3I2HQ", b, 32)
    print("fs_info", asked, r, max_id, ndev, fields, struct.unpack_from("<Q", b, 56)[0] > 0,
          bytes(b[16:32]) == bytes(b[64:80]))
b = bytearray(24)
r = call(".", ioc(2, 57, 24), b)
compat, compat_ro, incompat = struct.unpack("<3Q", b)
# the kernel adds big_metadata (0x20) to a read-write mount with nodes larger than a page; jbtrfs does not
print("features", r, hex(compat), hex(compat_ro), hex(incompat & ~0x20))
print("sync", call(".", SYNC, None))
if len(sys.argv) > 1:
    os.setgroups([]); os.setgid(1000); os.setuid(1000)
    print("user create", call("d", SUBVOL_CREATE_V2, vol(b"u")))
    print("user destroy", call("d", SNAP_DESTROY_V2, vol(b"s2")))
    print("user setflags", call("rosnap", SETFLAGS, u64(0)))
    print("user default", call(".", DEFAULT, u64(5)))
    print("user search", call(".", SEARCH, bytearray(4096)))
    b = bytearray(4096); struct.pack_into("<QQ", b, 0, 0, 256)
    print("user ino_lookup root", call("d", INO_LOOKUP, b))
    b = bytearray(4096); struct.pack_into("<QQ", b, 0, 5, 257)
    print("user ino_lookup other", call("d", INO_LOOKUP, b))
    print("user info", info("rosnap")[0])
