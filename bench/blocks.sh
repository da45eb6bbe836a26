#!/usr/bin/env bash
# bench/blocks.sh: the disk endpoint (GET /api/v1/images/{id}/disk, signed URL, RFC 9110 ranges) next to nginx
# serving the same raw file from disk, in one run on one machine, plus the upload throughput of that file.
#
#   1. random 4 KiB Range GETs (wrk + Lua, 4 KiB-aligned offsets, same seed for both servers): req/s and p99
#   2. random 1 MiB Range GETs (same script): MiB/s = req/s x 1 MiB, and p99
#   3. full-image download with curl to /dev/null, best of 3: MiB/s
#      and one full download through a pipe (curl | cat > file, so the server sees back-pressure) compared byte
#      for byte with the raw file
#   4. upload of the image (PUT /api/v1/images/{id}/content, curl -T): MiB/s, next to a dd copy of the same file
#      into the data directory's filesystem with conv=fsync (a ceiling, not a peer)
#
# Run from the repository root (after scripts/setup-debian.sh; needs wrk, curl, jq, java, nginx):
#   bench/blocks.sh                              # build, 1 GiB image, 10 s per wrk run (about 3-4 min)
#   BENCH_IMAGE_MIB=64 BENCH_DURATION=3 bench/blocks.sh   # quick run
#   BENCH_SKIP_BUILD=1 bench/blocks.sh           # reuse an embedded build in target/quarkus-app
#
# Environment:
#   BENCH_IMAGE_MIB    image size in MiB (default 1024)
#   BENCH_DURATION     wrk seconds per measured run (default 10)
#   BENCH_WARMUP       wrk warm-up seconds per server before each wrk test, 0 to skip (default 3)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_CONNECTIONS  wrk connections (default 16)
#   BENCH_SEED         seed of the random offsets (default 42)
#   BENCH_BLOCK_SIZE   image blockSize sent at creation (default: none, i.e. the server's 65536)
#   BENCH_SKIP_BUILD=1 reuse target/quarkus-app as it is (it must be an embedded-profile build)
#   BENCH_KEEP=1       keep the work directory (server log, nginx log, wrk outputs) instead of deleting it
#   BENCH_TMPDIR       where the work directory is created (default /tmp, or target/ if /tmp is a tmpfs)
#
# The machine's CPUs are shared by wrk, curl, nginx (one worker) and the server; see bench/README.md.
set -euo pipefail

IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
DURATION=${BENCH_DURATION:-10}
DURATION=${DURATION%s}
WARMUP=${BENCH_WARMUP:-3}
WARMUP=${WARMUP%s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
SEED=${BENCH_SEED:-42}
BLOCK_SIZE=${BENCH_BLOCK_SIZE:-}
NGINX_WORKERS=1

cd "$(dirname "$0")/.."
source bench/lib.sh
REPO=$(pwd)
for tool in wrk curl jq java nginx dd awk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/setup-debian.sh installs it)" >&2; exit 1; }
done
[[ "$IMAGE_MIB" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_IMAGE_MIB must be a positive integer" >&2; exit 1; }
SIZE=$((IMAGE_MIB * 1024 * 1024))

# The raw file, the data directory and the dd copy must sit on a real disk, not in RAM.
TMPBASE=${BENCH_TMPDIR:-/tmp}
if [[ -z "${BENCH_TMPDIR:-}" ]] && [[ "$(stat -f -c %T /tmp)" == tmpfs || "$(stat -f -c %T /tmp)" == ramfs ]]; then
  mkdir -p "$REPO/target"; TMPBASE=$REPO/target
fi
WORK=$(mktemp -d "$TMPBASE/sluice-blocks.XXXXXX")
SERVER_PID=
NGINX_PID=
TABLE_DONE=
cleanup() {
  local rc=$?
  stop_pid "$NGINX_PID"
  stop_pid "$SERVER_PID"
  if [[ $rc -ne 0 && -z "$TABLE_DONE" && -f "$WORK/server.log" ]]; then
    echo "bench: failed (exit $rc); last lines of the server log:" >&2
    tail -40 "$WORK/server.log" >&2
  fi
  if [[ "${BENCH_KEEP:-}" == 1 ]]; then
    rm -f "$WORK/disk.raw" "$WORK/www/disk.raw"
    echo "bench: kept $WORK (the raw image removed)" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM



# wait_http URL PID WHAT: up to 60 s for a 2xx answer while PID lives

load1() {
  local e=0
  [[ -f "$WORK/server.log" ]] && e=$(grep -c ' ERROR ' "$WORK/server.log" || true)
  echo "$(cut -d' ' -f1 /proc/loadavg) (server ERROR lines so far: $e)"
}
# the busiest processes that are not ours, nor the servers' (or nginx's worker): another build shows up here
others() {
  ps -eo pid=,ppid=,pcpu=,comm= --sort=-pcpu | awk -v a="$SERVER_PID" -v b="$NGINX_PID" -v me="$$" \
    '$1 != a && $1 != b && $2 != b && $1 != me && $2 != me && $3 >= 10 {printf "%s%s(pid %s, %s%%)", sep, $4, $1, $3; sep=", "}
     END {if (!sep) printf "none"}'
}

# ---------------------------------------------------------------------------------------------- header
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '+dirty' || true)
HEADER="bench/blocks.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $COMMIT$DIRTY  $(nproc) CPUs  $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)
$(java -version 2>&1 | head -1); $(nginx -v 2>&1 | sed 's/^nginx version: //') ($NGINX_WORKERS worker, sendfile on); $(wrk -v 2>&1 | head -1 | awk '{print "wrk", $2}'); $(curl --version | head -1 | awk '{print "curl", $2}')
image ${IMAGE_MIB} MiB from /dev/urandom, blockSize ${BLOCK_SIZE:-default}; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency --timeout 10s (warm-up ${WARMUP}s each), seed $SEED
work dir $WORK ($(df --output=source,fstype "$WORK" | tail -1 | tr -s ' '))"
echo "$HEADER"
echo "load1 at start: $(load1); busy processes: $(others)"

# ---------------------------------------------------------------------------------------------- build + start
build_sluice

log "writing ${IMAGE_MIB} MiB of /dev/urandom to $WORK/disk.raw"
head -c "$SIZE" /dev/urandom >"$WORK/disk.raw"
sync "$WORK/disk.raw"

PORT=$(free_port)
ADMIN=$(rand_hex 24)
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK/data"
SLUICE_DATA_DIR="$WORK/data" SLUICE_BOOTSTRAP_TOKEN="$ADMIN" SLUICE_HTTP_PORT="$PORT" SLUICE_HTTP_HOST=127.0.0.1 \
  java -jar target/quarkus-app/quarkus-run.jar >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
log "started the control plane (pid $SERVER_PID) on $BASE, data in $WORK/data"
wait_http "$BASE/q/health/ready" "$SERVER_PID" "the control plane"

# nginx: the same bytes (a hard link to the raw file), one worker, sendfile, no access log
mkdir -p "$WORK/www" "$WORK/nginx/tmp"
ln "$WORK/disk.raw" "$WORK/www/disk.raw"
NPORT=$(free_port)
NGINX_USER=
if [[ $EUID -eq 0 ]]; then NGINX_USER="user root root;"; fi
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
daemon off;
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$NPORT;
    root $WORK/www;
  }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" >"$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
NGINX_URL=http://127.0.0.1:$NPORT/disk.raw
log "started nginx (pid $NGINX_PID) on $NGINX_URL"
wait_http "$NGINX_URL" "$NGINX_PID" nginx 2>/dev/null || { cat "$WORK/nginx/error.log" "$WORK/nginx/stdout.log" >&2; exit 1; }


SUFFIX=$(rand_hex 4)
TENANT=$(api POST /api/v1/tenants "$ADMIN" "{\"name\":\"bench-$SUFFIX\"}" | jq -r .id)
MEMBER=$(api POST "/api/v1/tenants/$TENANT/tokens" "$ADMIN" '{"name":"bench","role":"tenant-member"}' | jq -r .secret)
CREATE="{\"name\":\"blocks-$SUFFIX\",\"sizeBytes\":$SIZE${BLOCK_SIZE:+,\"blockSize\":$BLOCK_SIZE}}"
IMAGE=$(api POST /api/v1/images "$MEMBER" "$CREATE" | jq -r .id)
log "tenant $TENANT, image $IMAGE"

# ---------------------------------------------------------------------------------------------- 4. upload
echo "load1 before upload: $(load1); busy: $(others)"
log "uploading (curl -T)"
up=$(curl -sS -o "$WORK/upload.json" -w '%{http_code} %{size_upload} %{time_total}' -T "$WORK/disk.raw" \
     -H "Authorization: Bearer $MEMBER" -H 'Content-Type: application/octet-stream' "$BASE/api/v1/images/$IMAGE/content")
read -r up_code up_bytes up_time <<<"$up"
up_state=$(jq -r '.state // empty' "$WORK/upload.json" 2>/dev/null || true)
if [[ "$up_code" != 2* || "$up_state" != available || "$up_bytes" != "$SIZE" ]]; then
  log "upload answered $up_code after $up_bytes bytes in ${up_time}s: $(head -c 2000 "$WORK/upload.json")"; exit 1
fi
UP_MIBS=$(awk -v b="$up_bytes" -v t="$up_time" 'BEGIN {printf "%.1f", b / 1048576 / t}')
log "upload: $up_bytes bytes in ${up_time}s = $UP_MIBS MiB/s, state $up_state"

# ceiling: the same file copied into the data directory's filesystem, fsync'ed before dd reports
echo "load1 before dd: $(load1); busy: $(others)"
dd_start=$(date +%s.%N)
dd if="$WORK/disk.raw" of="$WORK/data/dd-ceiling.raw" bs=4M conv=fsync status=none
dd_end=$(date +%s.%N)
rm -f "$WORK/data/dd-ceiling.raw"
DD_MIBS=$(awk -v s="$dd_start" -v e="$dd_end" -v b="$SIZE" 'BEGIN {printf "%.1f", b / 1048576 / (e - s)}')
log "dd conv=fsync into the data dir's filesystem: $DD_MIBS MiB/s"

# ---------------------------------------------------------------------------------------------- signed URL + correctness
SIGNED=$(api POST "/api/v1/images/$IMAGE/disk-url" "$MEMBER" '{"ttlSeconds":3600}' | jq -r .url)
[[ "$SIGNED" == /api/v1/images/* ]] || { log "unexpected disk-url: $SIGNED"; exit 1; }
DISK_URL=$BASE$SIGNED

# check_range URL FIRST LEN: 206, and the bytes equal the raw file's
check_range() {
  local url=$1 first=$2 len=$3 code
  code=$(curl -sS -o "$WORK/range.bin" -w '%{http_code}' -r "$first-$((first + len - 1))" "$url")
  [[ "$code" == 206 ]] || { log "Range $first+$len on $url answered $code"; return 1; }
  dd if="$WORK/disk.raw" of="$WORK/range.want" bs=1M iflag=skip_bytes,count_bytes skip="$first" count="$len" status=none
  cmp -s "$WORK/range.bin" "$WORK/range.want" || { log "Range $first+$len on $url: wrong bytes"; return 1; }
}
for url in "$DISK_URL" "$NGINX_URL"; do
  check_range "$url" 0 4096
  check_range "$url" $((SIZE - 4096)) 4096
  check_range "$url" $(( (RANDOM * 32768 + RANDOM) % ((SIZE - 1048576) / 4096 + 1) * 4096 )) 1048576
  check_range "$url" $((SIZE - 1048576)) 1048576
done
log "range reads from both servers match the raw file"

# ---------------------------------------------------------------------------------------------- wrk
cat >"$WORK/range.lua" <<'EOF'
-- args: range length, image size, seed. Offsets are 4 KiB-aligned, uniform over [0, size - length].
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  len = tonumber(args[1]); size = tonumber(args[2])
  math.randomseed(tonumber(args[3]) + 7919 * tid)
  slots = math.floor((size - len) / 4096)
end
function request()
  local off = math.random(0, slots) * 4096
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. off .. "-" .. (off + len - 1) })
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%.0f duration_us=%.0f bytes=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# run_wrk NAME SECONDS URL LEN: wrk output in $WORK/NAME.txt; returns 1 (and says why) if wrk printed no summary or
# the server answered non-2xx
run_wrk() {
  local name=$1 secs=$2 url=$3 len=$4
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --latency --timeout 10s -s "$WORK/range.lua" "$url" \
    -- "$len" "$SIZE" "$SEED" >"$WORK/$name.txt" 2>&1 || true
  if ! grep -q '^BENCH ' "$WORK/$name.txt"; then
    cat "$WORK/$name.txt" >&2; log "wrk $name produced no summary"; return 1
  fi
  if [[ "$(field "$name" err_status)" != 0 ]]; then
    cat "$WORK/$name.txt" >&2; log "$name: $(field "$name" err_status) non-2xx answers under load"; return 1
  fi
}
field() { grep '^BENCH ' "$WORK/$1.txt" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
# all socket errors
errs() {
  local n=$1 s="" v k
  [[ -f "$WORK/$n.txt" ]] && grep -q '^BENCH ' "$WORK/$n.txt" || { echo "no summary"; return; }
  for k in connect read write timeout status; do
    v=$(field "$n" "err_$k"); [[ "$v" == 0 ]] || s="$s$k=$v "
  done
  echo "${s:-none}"
}
# the Range was honoured: at least LEN bytes per completed response, and no more than LEN + 1 KiB of headers per
# response counting the CONNECTIONS responses still in flight when wrk stops (a 200 with the whole image would not fit)
check_bytes() {
  local n=$1 len=$2
  awk -v b="$(field "$n" bytes)" -v r="$(field "$n" requests)" -v l="$len" -v c="$CONNECTIONS" 'BEGIN {
    if (b < r * l || b > (r + c) * (l + 1024)) { printf "%.0f bytes for %d responses\n", b, r; exit 1 } }' >&2 \
    || { log "$n: responses are not $len-byte ranges"; return 1; }
}

FAILED=()
# wrk_pair TAG LEN: warm-up and measure the control plane, then nginx; sets TAG_sluice_rps, TAG_sluice_p99, ...
# to numbers, or to FAIL
wrk_pair() {
  local tag=$1 len=$2 who url ok
  for who in sluice nginx; do
    [[ $who == sluice ]] && url=$DISK_URL || url=$NGINX_URL
    echo "load1 before $tag $who: $(load1); busy: $(others)"
    ok=1
    if [[ "$WARMUP" != 0 ]]; then run_wrk "warm-$tag-$who" "$WARMUP" "$url" "$len" || ok=; fi
    if [[ -n "$ok" ]]; then
      log "wrk $tag against $who (${DURATION}s)"
      run_wrk "$tag-$who" "$DURATION" "$url" "$len" && check_bytes "$tag-$who" "$len" || ok=
    fi
    if [[ -n "$ok" ]]; then
      printf -v "${tag}_${who}_rps" '%s' "$(awk -v n="$(field "$tag-$who" requests)" -v d="$(field "$tag-$who" duration_us)" \
        'BEGIN {printf "%.1f", n / (d / 1e6) * '"$3"'}')"
      printf -v "${tag}_${who}_p99" '%s' "$(awk -v u="$(field "$tag-$who" p99_us)" 'BEGIN {printf "%.2f", u / 1000}')"
    else
      printf -v "${tag}_${who}_rps" FAIL; printf -v "${tag}_${who}_p99" FAIL; FAILED+=("wrk $tag $who")
    fi
  done
}
wrk_pair r4k 4096 1
wrk_pair r1m 1048576 1   # 1 MiB per request: req/s is MiB/s

# ---------------------------------------------------------------------------------------------- full download
# full_get NAME URL: best MiB/s of 3 curl downloads to /dev/null (each must be 200 and the full size), or FAIL
full_get() {
  local name=$1 url=$2 best=0 out code bytes speed
  for i in 1 2 3; do
    out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' "$url" 2>&1) || true
    read -r code bytes speed <<<"$out"
    if [[ "$code" != 200 || "$bytes" != "$SIZE" ]]; then
      log "$name download $i: $out (expected 200 and $SIZE bytes)"; echo FAIL; return
    fi
    echo "$name download $i: $(awk -v s="$speed" 'BEGIN {printf "%.1f", s / 1048576}') MiB/s" >>"$WORK/full.txt"
    best=$(awk -v a="$best" -v b="$speed" 'BEGIN {print (b > a ? b : a)}')
  done
  awk -v s="$best" 'BEGIN {printf "%.1f", s / 1048576}'
}
echo "load1 before full sluice: $(load1); busy: $(others)"
FULL_S=$(full_get sluice "$DISK_URL")
echo "load1 before full nginx: $(load1); busy: $(others)"
FULL_N=$(full_get nginx "$NGINX_URL")
[[ -f "$WORK/full.txt" ]] && sed 's/^/  /' "$WORK/full.txt"
[[ "$FULL_S" == FAIL ]] && FAILED+=("full download sluice")
[[ "$FULL_N" == FAIL ]] && FAILED+=("full download nginx")

# integrity of a full download read through a pipe (curl | cat > file: a slower consumer than curl -o /dev/null, so the
# server sees back-pressure): the bytes must equal the raw file's
# piped URL: "ok", or "WRONG" (and the first differing byte on stderr)
piped() {
  local out
  curl -sS "$1" | cat >"$WORK/piped.bin" || true
  if out=$(cmp "$WORK/piped.bin" "$WORK/disk.raw" 2>&1); then echo ok
  else log "$1: piped download differs from the raw file: $out"; echo WRONG; fi
  rm -f "$WORK/piped.bin"
}
SHA_S=$(piped "$DISK_URL")
SHA_N=$(piped "$NGINX_URL")
[[ "$SHA_S" == ok ]] || FAILED+=("piped full download sluice")
[[ "$SHA_N" == ok ]] || FAILED+=("piped full download nginx")
echo "load1 at end: $(load1); busy: $(others)"

# ---------------------------------------------------------------------------------------------- table
# row TEST SLUICE NGINX GOAL: GOAL is the minimum ratio sluice/nginx, or - for none (INFO); FAIL in a cell marks FAIL
row() {
  local test=$1 s=$2 n=$3 goal=$4 ratio mark
  if [[ "$s" == FAIL || "$n" == FAIL ]]; then
    ratio=-; mark=FAIL
  else
    ratio=$(awk -v a="$s" -v b="$n" 'BEGIN {printf "%.2f", a / b}')
    if [[ "$goal" == - ]]; then mark=INFO
    else mark=$(awk -v r="$ratio" -v g="$goal" 'BEGIN {print (r >= g ? "PASS" : "MISS")}'); fi
  fi
  [[ "$goal" == - ]] || goal=">= $goal"
  printf '%-48s %10s %10s %8s %8s  %s\n' "$test" "$s" "$n" "$ratio" "$goal" "$mark"
}
echo
echo "$HEADER"
printf '%-48s %10s %10s %8s %8s  %s\n' test sluice nginx ratio goal mark
row "random 4 KiB GET, req/s" "$r4k_sluice_rps" "$r4k_nginx_rps" 0.5
row "random 4 KiB GET, p99 ms (lower is better)" "$r4k_sluice_p99" "$r4k_nginx_p99" -
row "random 1 MiB GET, MiB/s (req/s x 1 MiB)" "$r1m_sluice_rps" "$r1m_nginx_rps" 0.8
row "random 1 MiB GET, p99 ms (lower is better)" "$r1m_sluice_p99" "$r1m_nginx_p99" -
row "full download (curl, best of 3), MiB/s" "$FULL_S" "$FULL_N" 0.8
printf '%-48s %10s %10s %8s %8s  %s\n' "full download piped (curl | cat), bytes" "$SHA_S" "$SHA_N" - "= file" \
  "$([[ $SHA_S == ok ]] && echo PASS || echo FAIL)"
row "upload curl -T, MiB/s (peer: dd fsync ceiling)" "$UP_MIBS" "$DD_MIBS" -
echo "socket errors: 4k sluice $(errs r4k-sluice), nginx $(errs r4k-nginx); 1m sluice $(errs r1m-sluice), nginx $(errs r1m-nginx)"
nerr=$(grep -cE ' ERROR ' "$WORK/server.log" || true)
nwarn=$(grep -cE ' WARN ' "$WORK/server.log" || true)
echo "server log: $(wc -l <"$WORK/server.log") lines, $nerr ERROR, $nwarn WARN; nginx error log: $(wc -l <"$WORK/nginx/error.log") lines"
if [[ "$nerr" != 0 ]]; then
  # ERROR lines grouped by message (digits as N) and first stack frame under dev.sluice, with counts
  echo "server ERRORs by kind (count x message | first dev.sluice frame, first seen):"
  awk '
    function flush() {
      if (key == "") return
      k = key " | " (frame == "" ? "no dev.sluice frame" : frame)
      if (!(k in c)) { order[++m] = k; first[k] = ts }
      c[k]++; key = ""
    }
    / ERROR / { flush(); ts = $2; key = $0; sub(/^.* ERROR +\[[^]]*\] +\([^)]*\) +/, "", key); gsub(/[0-9]+/, "N", key)
                frame = ""; next }
    /^20[0-9][0-9]-/ { flush(); next }
    key != "" && frame == "" && /^[ \t]+at dev\.sluice/ { frame = $0; sub(/^[ \t]+at /, "", frame) }
    END { flush(); for (i = 1; i <= m; i++) printf "  %7d x %s (first %s)\n", c[order[i]], substr(order[i], 1, 400), first[order[i]] }
  ' "$WORK/server.log"
fi
TABLE_DONE=1
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "FAILED: ${FAILED[*]}"
  exit 1
fi
