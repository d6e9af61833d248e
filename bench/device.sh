#!/usr/bin/env bash
# Runs fio (ioengine=libaio, direct=1) and jbtrfs bench-device on the same file, alternating, and prints the
# ratios the device issue asks for: bench-device/fio IOPS at each queue depth, and QD32/QD1 for each tool.
#
# usage: bench/device.sh [FILE]
# env:   SECONDS_PER_RUN (10)  ROUNDS (2)  QDS ("1 32")  RWS ("randwrite randread")  BS (4k)  SIZE (1G)
#        BACKEND (aio)  — the file must be on a real disk, not tmpfs (O_DIRECT on tmpfs measures memory).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FILE=${1:-/var/tmp/jbtrfs-bench/device.img}
RUN_S=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-2}
QDS=${QDS:-"1 32"}
RWS=${RWS:-"randwrite randread"}
BS=${BS:-4k}
SIZE=${SIZE:-1G}
BACKEND=${BACKEND:-aio}

command -v fio >/dev/null || { echo "fio is not installed (apt-get install -y fio)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed to read fio's JSON" >&2; exit 1; }
mkdir -p "$(dirname "$FILE")"
FSTYPE=$(stat -f -c %T "$(dirname "$FILE")")
if [ "$FSTYPE" = tmpfs ] || [ "$FSTYPE" = ramfs ]; then
  echo "warning: $FILE is on $FSTYPE; put it on a real disk for meaningful numbers" >&2
fi

if [ -x bin/jbtrfs ]; then
  BENCH=(bin/jbtrfs bench-device)
else
  mvn -q -o compile -pl device >&2
  CPFILE=$(mktemp)
  mvn -q -o dependency:build-classpath -pl device -Dmdep.outputFile="$CPFILE" >&2
  BENCH=(java -cp "$ROOT/device/target/classes:$(cat "$CPFILE")" jbtrfs.device.bench.DeviceBench)
  rm -f "$CPFILE"
fi

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

run_fio() { # rw qd -> iops p50_us p99_us
  fio --name=dev --filename="$FILE" --size="$SIZE" --rw="$1" --bs="$BS" --ioengine=libaio --direct=1 \
      --iodepth="$2" --runtime="$RUN_S" --ramp_time=1 --time_based --randrepeat=0 --norandommap \
      --output-format=json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
d = j["write"] if "write" in sys.argv[1] else j["read"]
p = d["clat_ns"]["percentile"]
print("%.0f %.1f %.1f" % (d["iops"], p["50.000000"] / 1000, p["99.000000"] / 1000))' "$1"
}

run_bench() { # rw qd -> iops p50_us p99_us
  "${BENCH[@]}" --file "$FILE" --size "$SIZE" --rw "$1" --bs "$BS" --qd "$2" --seconds "$RUN_S" \
      --backend "$BACKEND" | tail -1 | python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
print("%.0f %.1f %.1f %s" % (j["iops"], j["p50_us"], j["p99_us"], j["backend"]))'
}

# lay the file out with real data once, so reads touch the disk and writes do not allocate
if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -lt "$(numfmt --from=iec "$SIZE")" ]; then
  echo "laying out $FILE ($SIZE)" >&2
  fio --name=layout --filename="$FILE" --size="$SIZE" --rw=write --bs=1M --ioengine=libaio --direct=1 \
      --iodepth=8 >/dev/null
fi

echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cores; file $FILE ($FSTYPE), bs $BS, ${RUN_S}s per run + 1s ramp, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  for rw in $RWS; do
    for qd in $QDS; do
      read -r fiops fp50 fp99 <<<"$(run_fio "$rw" "$qd")"
      echo "fio   round $round $rw qd$qd: $fiops IOPS p50 ${fp50}us p99 ${fp99}us"
      echo "fio $rw $qd $fiops $fp50 $fp99" >>"$RESULTS"
      read -r bi bp50 bp99 be <<<"$(run_bench "$rw" "$qd")"
      echo "bench round $round $rw qd$qd: $bi IOPS p50 ${bp50}us p99 ${bp99}us ($be)"
      echo "bench $rw $qd $bi $bp50 $bp99" >>"$RESULTS"
    done
  done
done

python3 - "$RESULTS" "$QDS" "$BACKEND" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
qds = [int(q) for q in sys.argv[2].split()]
backend = sys.argv[3]
def mean(tool, rw, qd, col):
    v = [float(r[col]) for r in rows if r[0] == tool and r[1] == rw and int(r[2]) == qd]
    return statistics.mean(v) if v else float("nan")
print()
print("| rw | qd | fio libaio IOPS | bench-device (%s) IOPS | bench/fio | fio p50/p99 us | bench p50/p99 us |" % backend)
print("|---|---|---|---|---|---|---|")
rws = []
for r in rows:
    if r[1] not in rws: rws.append(r[1])
for rw in rws:
    for qd in qds:
        f, b = mean("fio", rw, qd, 3), mean("bench", rw, qd, 3)
        print("| %s | %d | %.0f | %.0f | %.2f | %.0f / %.0f | %.0f / %.0f |" % (rw, qd, f, b, b / f,
              mean("fio", rw, qd, 4), mean("fio", rw, qd, 5), mean("bench", rw, qd, 4), mean("bench", rw, qd, 5)))
if len(qds) >= 2:
    lo, hi = min(qds), max(qds)
    print()
    for rw in rws:
        print("%s QD%d/QD%d: fio %.2fx, bench-device %.2fx" % (rw, hi, lo,
              mean("fio", rw, hi, 3) / mean("fio", rw, lo, 3), mean("bench", rw, hi, 3) / mean("bench", rw, lo, 3)))
PY
