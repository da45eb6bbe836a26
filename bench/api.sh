#!/usr/bin/env bash
# bench/api.sh: throughput and tail latency of an authenticated API read (GET /api/v1/images, a tenant-viewer
# API token, 20 images in the tenant) next to the cheapest endpoint (GET /q/health/live), measured with wrk in the
# same run on the same server, and their ratio.
#
# Run from the repository root (after scripts/setup-debian.sh):
#   bench/api.sh                       # builds the embedded (H2) jar, starts it on 127.0.0.1:<free port>, measures
#   BENCH_DURATION=5s bench/api.sh     # shorter runs
#   SLUICE_URL=http://127.0.0.1:8080 SLUICE_BOOTSTRAP_TOKEN=... bench/api.sh   # measure a server already running
#
# Environment:
#   BENCH_DURATION     wrk duration per endpoint (default 15s)
#   BENCH_WARMUP       wrk warm-up per endpoint before measuring, 0 to skip (default 5s)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_CONNECTIONS  wrk connections (default 32)
#   BENCH_IMAGES       images created in the bench tenant (default 20)
#   BENCH_SKIP_BUILD=1 reuse target/quarkus-app as it is (it must be an embedded-profile build)
#   SLUICE_URL         use this running server instead of starting one (needs SLUICE_BOOTSTRAP_TOKEN, its
#                      platform-admin token); the tenant it creates is left behind
set -euo pipefail

DURATION=${BENCH_DURATION:-15s}
WARMUP=${BENCH_WARMUP:-5s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
IMAGES=${BENCH_IMAGES:-20}

cd "$(dirname "$0")/.."
source bench/lib.sh
for tool in wrk curl jq java; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/setup-debian.sh installs it)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


if [[ -n "${SLUICE_URL:-}" ]]; then
  BASE=${SLUICE_URL%/}
  ADMIN=${SLUICE_BOOTSTRAP_TOKEN:?SLUICE_URL needs SLUICE_BOOTSTRAP_TOKEN (a platform-admin token)}
  echo "bench: using the running server at $BASE"
else
  build_sluice
  PORT=$(free_port)
  ADMIN=$(rand_hex 24)
  BASE=http://127.0.0.1:$PORT
  mkdir -p "$WORK/data"
  SLUICE_DATA_DIR="$WORK/data" SLUICE_BOOTSTRAP_TOKEN="$ADMIN" SLUICE_HTTP_PORT="$PORT" SLUICE_HTTP_HOST=127.0.0.1 \
    java -jar target/quarkus-app/quarkus-run.jar >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  echo "bench: started the control plane (pid $SERVER_PID) on $BASE, data in $WORK/data"
fi

ready=
for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null "$BASE/q/health/ready" 2>/dev/null; then ready=1; break; fi
  if [[ -n "$SERVER_PID" ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  sleep 0.5
done
if [[ -z "$ready" ]]; then
  echo "bench: $BASE/q/health/ready did not answer 200" >&2
  [[ -f "$WORK/server.log" ]] && tail -40 "$WORK/server.log" >&2
  exit 1
fi


SUFFIX=$(rand_hex 4)
TENANT=$(api POST /api/v1/tenants "$ADMIN" "{\"name\":\"bench-$SUFFIX\"}" | jq -r .id)
VIEWER=$(api POST "/api/v1/tenants/$TENANT/tokens" "$ADMIN" '{"name":"bench","role":"tenant-viewer"}' | jq -r .secret)
MEMBER=$(api POST "/api/v1/tenants/$TENANT/tokens" "$ADMIN" '{"name":"bench-writer","role":"tenant-member"}' | jq -r .secret)
for i in $(seq 1 "$IMAGES"); do
  api POST /api/v1/images "$MEMBER" "{\"name\":\"img-$i\",\"sizeBytes\":1073741824}" >/dev/null
done
listed=$(api GET /api/v1/images "$VIEWER" | jq '.items | length')
echo "bench: tenant $TENANT with $listed images; a tenant-viewer token lists them"
[[ "$listed" == "$IMAGES" ]] || { echo "bench: expected $IMAGES images in the list, got $listed" >&2; exit 1; }

# run_wrk NAME DURATION URL [HEADER]: wrk output into $WORK/NAME.txt
run_wrk() {
  local name=$1 duration=$2 url=$3
  shift 3
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency "$@" "$url" >"$WORK/$name.txt"
  if grep -q 'Non-2xx or 3xx responses' "$WORK/$name.txt"; then
    cat "$WORK/$name.txt" >&2; echo "bench: $url answered errors under load" >&2; exit 1
  fi
}
# to milliseconds: 812.00us, 3.41ms, 1.02s, 2.00m
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}
rps_of() { awk '/^Requests\/sec:/ {print $2}' "$WORK/$1.txt"; }
p99_of() { to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/$1.txt")"; }
p50_of() { to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/$1.txt")"; }
errors_of() { awk '/Socket errors/ {sub(/^ *Socket errors: */, ""); print; f=1} END {if (!f) print "none"}' "$WORK/$1.txt"; }

AUTH="Authorization: Bearer $VIEWER"
if [[ "$WARMUP" != 0 ]]; then
  echo "bench: warming up ($WARMUP per endpoint)"
  run_wrk warm-health "$WARMUP" "$BASE/q/health/live"
  run_wrk warm-list "$WARMUP" "$BASE/api/v1/images" -H "$AUTH"
fi
echo "bench: measuring ($DURATION per endpoint, wrk -t$THREADS -c$CONNECTIONS)"
run_wrk health "$DURATION" "$BASE/q/health/live"
run_wrk list "$DURATION" "$BASE/api/v1/images" -H "$AUTH"

h_rps=$(rps_of health); l_rps=$(rps_of list)
h_p99=$(p99_of health); l_p99=$(p99_of list)
h_p50=$(p50_of health); l_p50=$(p50_of list)
rps_ratio=$(awk -v a="$l_rps" -v b="$h_rps" 'BEGIN {printf "%.3f", a / b}')
p99_ratio=$(awk -v a="$l_p99" -v b="$h_p99" 'BEGIN {printf "%.2f", a / b}')

echo
echo "bench/api.sh $(date -u +%Y-%m-%dT%H:%MZ)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
     " $(nproc) CPUs  $(java -version 2>&1 | head -1)"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP); server $BASE"
printf '%-44s %12s %10s %10s  %s\n' endpoint req/s p50_ms p99_ms socket_errors
printf '%-44s %12s %10s %10s  %s\n' "GET /q/health/live" "$h_rps" "$h_p50" "$h_p99" "$(errors_of health)"
printf '%-44s %12s %10s %10s  %s\n' "GET /api/v1/images ($IMAGES items, viewer token)" "$l_rps" "$l_p50" "$l_p99" \
       "$(errors_of list)"
printf '%-44s %12s %10s %10s\n' "ratio list / health" "$rps_ratio" "" "$p99_ratio"
