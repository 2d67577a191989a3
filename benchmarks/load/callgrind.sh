#!/usr/bin/env bash
# Instructions per call of riskgate's server against the floor's
# (benchmarks/floor), counted by callgrind rather than timed: the count
# repeats within a few percent whatever else the machine is doing, where
# CPU time per call moves by a fifth from run to run on a shared VM
# (benchmarks/README.md, "Instructions per call, server against floor").
#
#   benchmarks/load/callgrind.sh 2                  # gRPC, 2 rounds
#   benchmarks/load/callgrind.sh 2 -target http     # HTTP/JSON
#   RISKGATE_BIN=/tmp/rg-before benchmarks/load/callgrind.sh 2   # another build
#   CALLGRIND_KEEP=/tmp/cg benchmarks/load/callgrind.sh 1   # keep the counts, for callgrind_annotate
#
# Each round runs the floor, then riskgate on the memory store, each under
# valgrind --tool=callgrind with instrumentation off, on ports asked of the
# kernel; drives it for a warm-up (unmeasured: baselines exist, pools and
# caches are full), then turns instrumentation on, drives it for
# DURATION (20s) with 8 calls in flight, dumps the counts, and divides the
# instructions by the calls the generator completed. The generator runs
# natively, outside valgrind. Needs valgrind (callgrind_control).
#
# Instructions are not time: a cache miss costs none here. Read the ratio
# beside compare's CPU rows, not instead of them.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 ROUNDS [generator flags, e.g. -target http]" >&2
  exit 2
fi
rounds=$1
shift
for tool in valgrind callgrind_control; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is needed" >&2; exit 1; }
done
target=grpc
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -target | --target) target=${args[$((i + 1))]} ;;
    -target=* | --target=*) target=${args[$i]#*=} ;;
  esac
done
duration=${DURATION:-20s}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
vpid=
cleanup() {
  [ -n "$vpid" ] && kill "$vpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/load" ./benchmarks/load
go build -o "$tmp/floor" ./benchmarks/floor
rg=${RISKGATE_BIN:-}
if [ -z "$rg" ]; then
  go build -o "$tmp/riskgate" ./cmd/riskgate
  rg=$tmp/riskgate
fi
export RISKGATE_HMAC_SECRET=${RISKGATE_HMAC_SECRET:-ab-benchmark-secret-0123456789abcdef}

# count NAME BIN ARGS...: prints instructions per call.
count() {
  local name=$1
  shift
  local gp hp
  read -r -d '' gp hp < <("$tmp/load" -free-ports 2 | tr '\n' ' ') || true
  local addr=127.0.0.1:$gp
  [ "$target" = http ] && addr=127.0.0.1:$hp
  # asyncpreemptoff: callgrind (3.19) asserts on the runtime's preemption
  # signal; cpu.rdtscp=off: it cannot decode RDTSCP (instructions_test.go).
  # --fair-sched: valgrind runs one thread at a time, and without it a
  # thread spinning on a runtime lock could hold the others off for
  # seconds: a call of 14.8 s, and the floor's count read 142,000 to
  # 4,354,000 instructions a call where it reads 64,000-67,000.
  GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 valgrind --tool=callgrind --fair-sched=yes --instr-atstart=no \
    --callgrind-out-file="$tmp/$name.cg" "$@" --grpc-addr 127.0.0.1:$gp --http-addr 127.0.0.1:$hp \
    >"$tmp/$name.log" 2>&1 &
  vpid=$!
  local up=
  for _ in $(seq 1 240); do
    if curl -sf -o /dev/null "http://127.0.0.1:$hp/readyz"; then up=1; break; fi
    sleep 0.25
  done
  if [ -z "$up" ]; then
    echo "$name did not start:" >&2
    tail -20 "$tmp/$name.log" >&2
    exit 1
  fi
  "$tmp/load" -addr "$addr" -duration 5s -warmup 1s -c 8 "${args[@]}" >/dev/null
  callgrind_control -i on "$vpid" >/dev/null 2>&1
  "$tmp/load" -addr "$addr" -duration "$duration" -warmup 0s -c 8 "${args[@]}" >"$tmp/$name.load"
  callgrind_control -d "$vpid" >/dev/null 2>&1
  kill "$vpid"
  wait "$vpid" 2>/dev/null || true
  vpid=
  local calls ir
  calls=$(grep -o '[0-9]* calls,' "$tmp/$name.load" | head -1 | cut -d' ' -f1)
  # The dump (-d, part 1) holds what ran while instrumentation was on;
  # the file written at exit, what ran from the dump to the kill.
  ir=$(awk '/^summary:/ { print $2 }' "$tmp/$name.cg.1")
  echo $((ir / calls))
  if [ -n "${CALLGRIND_KEEP:-}" ]; then
    mkdir -p "$CALLGRIND_KEEP"
    cp "$tmp/$name.cg.1" "$CALLGRIND_KEEP/$name.$target.$calls-calls.cg"
  fi
  rm -f "$tmp/$name.cg"*
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $target, $duration a run, 8 calls in flight"
echo "| round | floor instructions a call | riskgate | ratio |"
echo "| --- | ---: | ---: | ---: |"
for r in $(seq 1 "$rounds"); do
  f=$(count floor "$tmp/floor")
  g=$(count riskgate "$rg" serve --store memory --log-level warn --memory-max-users 2000000)
  echo "| $r | $f | $g | $(awk -v a="$g" -v b="$f" 'BEGIN { printf "%.2f×", a / b }') |"
done
