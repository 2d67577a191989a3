#!/usr/bin/env bash
# Two builds of riskgate alternating under the same load, to tell a change
# from the machine's drift (benchmarks/README.md records such runs):
#
#   git worktree add /tmp/before <rev> && (cd /tmp/before && go build -o /tmp/rg-before ./cmd/riskgate)
#   go build -o /tmp/rg-after ./cmd/riskgate
#   benchmarks/load/ab.sh /tmp/rg-before /tmp/rg-after 3 -attempt-ids
#
# Arguments: the two binaries, the rounds, then flags for the generator
# (benchmarks/load; -duration 10s and -warmup 2s unless given). Each run
# starts its build on the memory store, on ports asked of the kernel,
# waits for /readyz, drives it over gRPC with 32 calls in flight, prints
# the generator's result line (the server's CPU per call read from
# /proc) and stops it.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 BEFORE_BIN AFTER_BIN ROUNDS [generator flags]" >&2
  exit 2
fi
a=$(realpath "$1") b=$(realpath "$2") rounds=$3
shift 3
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/load" ./benchmarks/load
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); generator flags: $*"
for r in $(seq 1 "$rounds"); do
  for bin in "$a" "$b"; do
    read -r -d '' gp hp < <("$tmp/load" -free-ports 2 | tr '\n' ' ') || true
    RISKGATE_HMAC_SECRET=${RISKGATE_HMAC_SECRET:-ab-benchmark-secret-0123456789abcdef} "$bin" serve \
      --grpc-addr 127.0.0.1:$gp --http-addr 127.0.0.1:$hp --store memory --log-level warn \
      --memory-max-users 2000000 >"$tmp/serve.log" 2>&1 &
    pid=$!
    ready=
    for _ in $(seq 1 200); do
      if curl -sf "http://127.0.0.1:$hp/readyz" >/dev/null; then ready=1; break; fi
      sleep 0.05
    done
    if [ -z "$ready" ]; then
      echo "$bin did not become ready:" >&2
      cat "$tmp/serve.log" >&2
      exit 1
    fi
    echo "== round $r, $bin, load average $(cut -d' ' -f1 /proc/loadavg)"
    "$tmp/load" -addr 127.0.0.1:$gp -duration 10s -warmup 2s -server-pid $pid -label "$(basename "$bin")" "$@"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
  done
done
