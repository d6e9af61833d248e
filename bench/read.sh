#!/usr/bin/env bash
# Read benchmark: fio sequential read (1 MiB) and random read (4 KiB) of one file, cold cache, through the kernel's
# mount and through ours of the same image, in one run. Prints a table with the ratios; the last line is JSON.
#   bench/read.sh [WORKDIR]      (root; needs fio, btrfs-progs, python3)
#   SIZE=1G RAND_SECONDS=20 bench/read.sh
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
work=${1:-/var/tmp/jbtrfs-bench-read}
size=${SIZE:-1G}
rand_seconds=${RAND_SECONDS:-20}
[ "$(id -u)" -eq 0 ] || { echo "bench/read.sh: needs root (loop mounts, drop_caches)" >&2; exit 2; }
mkdir -p "$work/mnt"
img="$work/read.img"

cleanup() { umount "$work/mnt" 2>/dev/null || "$root/bin/jbtrfs" umount "$work/mnt" 2>/dev/null || true; }
trap cleanup EXIT

if [ ! -f "$img" ] || [ "$(cat "$work/size" 2>/dev/null)" != "$size" ]; then
  echo "making $img with a $size file written by the kernel..." >&2
  rm -f "$img"; truncate -s 4G "$img"; mkfs.btrfs -q -f "$img"
  mount -o loop "$img" "$work/mnt"
  fio --name=fill --filename="$work/mnt/file" --rw=write --bs=1M --size="$size" --ioengine=psync \
      --refill_buffers --output=/dev/null
  umount "$work/mnt"
  echo "$size" > "$work/size"
fi

run_fio() { # name rw bs extra...
  local name=$1 rw=$2 bs=$3; shift 3
  sync; echo 3 > /proc/sys/vm/drop_caches
  fio --name="$name" --filename="$work/mnt/file" --rw="$rw" --bs="$bs" --size="$size" --ioengine=psync \
      --readonly --output-format=json "$@" > "$work/$name.json"
}

for side in kernel jbtrfs; do
  if [ "$side" = kernel ]; then mount -o loop,ro "$img" "$work/mnt"; else "$root/bin/jbtrfs" mount --read-only "$img" "$work/mnt" 2>/dev/null; fi
  run_fio "$side-seq" read 1M
  run_fio "$side-rand" randread 4k --runtime="$rand_seconds" --time_based
  if [ "$side" = kernel ]; then umount "$work/mnt"; else "$root/bin/jbtrfs" umount "$work/mnt"; fi
done

python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def r(name):
    j = json.load(open(f"{w}/{name}.json"))["jobs"][0]["read"]
    return j["bw"] / 1024.0, j["iops"]
ks, _ = r("kernel-seq"); js, _ = r("jbtrfs-seq")
_, kr = r("kernel-rand"); _, jr = r("jbtrfs-rand")
print(f"{'job':<28}{'kernel':>12}{'jbtrfs':>12}{'ratio':>8}")
print(f"{'seq read 1 MiB (MiB/s)':<28}{ks:>12.0f}{js:>12.0f}{js/ks:>8.2f}")
print(f"{'rand read 4 KiB (IOPS)':<28}{kr:>12.0f}{jr:>12.0f}{jr/kr:>8.2f}")
print(json.dumps({"seq_kernel_mib_s": round(ks), "seq_jbtrfs_mib_s": round(js), "seq_ratio": round(js/ks, 2),
                  "rand_kernel_iops": round(kr), "rand_jbtrfs_iops": round(jr), "rand_ratio": round(jr/kr, 2)}))
PY
