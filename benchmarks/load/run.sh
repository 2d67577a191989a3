#!/usr/bin/env bash
# Load runs recorded in benchmarks/README.md (## Load). Builds riskgate and
# the generator, starts `riskgate serve` on loopback (memory store, then a
# private redis-server), drives it over gRPC and HTTP, and stops everything.
# Both processes run under nice: the machine is shared.
#
#   benchmarks/load/run.sh            # memory and Redis
#   STORES=memory benchmarks/load/run.sh
#   DURATION=20s benchmarks/load/run.sh
#
# For riskgate's figures as ratios of an empty-handler server's (the
# floor), which is what benchmarks/README.md records, use
# go run ./benchmarks/load/compare.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
STORES=${STORES:-"memory redis"}
HALF_MEMORY=${HALF_MEMORY:-15000}   # half the gRPC target on the memory store
HALF_REDIS=${HALF_REDIS:-6000}      # half the gRPC target on Redis
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/riskgate" ./cmd/riskgate
go build -o "$tmp/load" ./benchmarks/load
# Ports asked of the kernel: a fixed port would collide with a server
# already running (a riskgate on its default ports, the machine's Redis).
read -r -d '' hp gp rp < <("$tmp/load" -free-ports 3 | tr '\n' ' ') || true
HTTP=127.0.0.1:$hp GRPC=127.0.0.1:$gp
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"

serve() { # store
  nice "$tmp/riskgate" serve --http-addr $HTTP --grpc-addr $GRPC --store "$1" --log-level warn \
    --memory-max-users 2000000 >"$tmp/serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://$HTTP/readyz" >/dev/null && return; sleep 0.1; done
  cat "$tmp/serve.log"; exit 1
}
stop_serve() {
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
}
redis_pid=0
load() { nice "$tmp/load" -duration "$DURATION" -server-pid "${pids[-1]}" -redis-pid "$redis_pid" "$@"; }

for store in $STORES; do
  url=memory half=$HALF_MEMORY
  if [ "$store" = redis ]; then
    port=$rp
    nice redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
    pids+=($!)
    redis_pid=$!
    for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
    url=redis://127.0.0.1:$port/0 half=$HALF_REDIS
    export RISKGATE_HMAC_SECRET=load-test-secret-0123456789
  fi
  serve "$url"
  load -label "$store" -target grpc -addr $GRPC -c 32
  load -label "$store" -target grpc -addr $GRPC -c 32 -decode=false
  load -label "$store" -target grpc -addr $GRPC -c 32 -decode=false -omit-signals
  load -label "$store" -target grpc -addr $GRPC -c 64 -rate "$half"
  load -label "$store" -target http -addr $HTTP -c 32
  load -label "$store" -target http -addr $HTTP -c 64 -rate "$((half / 2))"
  stop_serve
done
