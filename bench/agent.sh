#!/usr/bin/env bash
# bench/agent.sh: the NBD agent (agent/, sluice-agent.jar) against its peers, in one run on one machine, on one
# random (incompressible) raw image uploaded to the embedded control plane:
#
#   1. warm reads (every block in the agent's cache) vs qemu-nbd serving the raw file: fio (ioengine=nbd) 4 KiB
#      randread QD1 and QD32 (IOPS), 1 MiB sequential read QD8 (MiB/s), nbdcopy to null: (MiB/s). Goal >= 0.8x.
#   2. cold sequential read of an empty cache (fresh agent, --prefetch off): time of nbdcopy of the whole disk to
#      null:, vs nbdkit curl (fresh --filter=cache) over nginx serving the raw file. Goal: ours <= 1.0x the time.
#   3. full prefetch (fresh agent, --prefetch-rate 0, no reads): agent start -> every block present, vs
#      curl -o FILE of the raw file from nginx. Goal: ours >= 0.8x curl's MiB/s.
#   Rows 2 and 3 compare medians of BENCH_ROUNDS rounds (ours, then the peer, in each round; single runs of either
#   side varied by 10-20 % from one run of the script to the next).
#   4. fio 4 KiB randread QD1 clat p99 of present blocks while prefetch runs (a fresh agent, --prefetch-rate throttled
#      so that prefetch alone would last 2 x BENCH_DURATION; fio reads the prefix prefetch has already made present,
#      from the moment a quarter of the disk is), vs the same reads of the same agent once prefetch is complete (idle).
#      Goal <= 2x: what a running prefetch costs the guest's reads.
#   4b (informational) fio over the whole disk on another fresh agent while prefetch runs (misses included: a miss
#      waits for the repository), vs the same whole-disk run on a complete agent.
#   4c (informational) the same fio run as 4b against a fresh agent with --prefetch off: 4b / 4c is what the running
#      prefetch costs reads that miss.
#   Rows 4-4c pass --boot-hold 0: the hold keeps a booting guest's agent from prefetching beyond its boot set while
#   a client is attached, and these rows measure a prefetch that runs.
#
# Run from the repository root (needs java, mvn, curl, jq, nginx, fio with the nbd engine, qemu-nbd, nbdkit with
# the curl plugin and cache filter, nbdcopy):
#   bench/agent.sh                                    # build both, 1 GiB image, 10 s per fio job (about 4-5 min)
#   BENCH_IMAGE_MIB=128 BENCH_DURATION=3 bench/agent.sh   # quick run
#   BENCH_SKIP_BUILD=1 bench/agent.sh                 # reuse target/quarkus-app (embedded) and agent/target/sluice-agent.jar
#
# Environment:
#   BENCH_IMAGE_MIB    image size in MiB (default 1024)
#   BENCH_DURATION     seconds per fio job (default 10)
#   BENCH_WARMUP_WRK   seconds of wrk against the block-run endpoint before the warm-up rounds (default 20; 0 = none)
#   BENCH_WARMUP_COPIES at least this many warm-up rounds (a cold whole-disk copy and a full prefetch through throwaway
#                      agents), more until the control plane's JIT threads use < BENCH_WARMUP_JIT CPU-s in a round,
#                      at most BENCH_WARMUP_MAX rounds (default 2)
#   BENCH_WARMUP_JIT   see above (default 0.25 CPU-s; with 0.5 the warm-up ended at 0.43-0.52 and the measured rows
#                      still carried that much JIT work each)
#   BENCH_WARMUP_MAX   see above (default 12)
#   BENCH_ROUNDS       rounds of rows 2 and 3, each side once per round; medians are compared (default 3)
#   BENCH_SKIP_BUILD=1 reuse the builds as they are
#   BENCH_KEEP=1       keep the work directory (logs, fio JSON) without the images
#   BENCH_TMPDIR       where the work directory is created (default /tmp, or target/ if /tmp is a tmpfs)
#   BENCH_AGENT_CDS=0  start agents with plain `java -jar` instead of agent/bin/sluice-agent (class-data sharing)
set -euo pipefail

IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
DURATION=${BENCH_DURATION:-10}
DURATION=${DURATION%s}
WARMUP_COPIES=${BENCH_WARMUP_COPIES:-2}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP_MAX=${BENCH_WARMUP_MAX:-12}
WARMUP_JIT_GOAL=${BENCH_WARMUP_JIT:-0.25}

cd "$(dirname "$0")/.."
source bench/lib.sh
REPO=$(pwd)
for tool in java mvn curl jq nginx fio qemu-nbd nbdkit nbdcopy awk wrk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[[ "$IMAGE_MIB" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_IMAGE_MIB must be a positive integer" >&2; exit 1; }
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_DURATION must be a positive integer" >&2; exit 1; }
[[ "$WARMUP_COPIES" =~ ^[0-9]+$ ]] || { echo "bench: BENCH_WARMUP_COPIES must be a non-negative integer" >&2; exit 1; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_ROUNDS must be a positive integer" >&2; exit 1; }
[[ "$WARMUP_MAX" =~ ^[0-9]+$ ]] || { echo "bench: BENCH_WARMUP_MAX must be a non-negative integer" >&2; exit 1; }
[[ "$WARMUP_JIT_GOAL" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench: BENCH_WARMUP_JIT must be a number of seconds" >&2; exit 1; }
fio --enghelp=nbd 2>/dev/null | grep -q uri || { echo "bench: this fio has no nbd ioengine" >&2; exit 1; }
SIZE=$((IMAGE_MIB * 1024 * 1024))

TMPBASE=${BENCH_TMPDIR:-/tmp}
if [[ -z "${BENCH_TMPDIR:-}" ]] && [[ "$(stat -f -c %T /tmp)" == tmpfs || "$(stat -f -c %T /tmp)" == ramfs ]]; then
  mkdir -p "$REPO/target"; TMPBASE=$REPO/target
fi
WORK=$(mktemp -d "$TMPBASE/sluice-agentbench.XXXXXX")
PIDS=()          # everything we started, stopped in reverse order by the trap
TABLE_DONE=
cleanup() {
  local rc=$? i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [[ $rc -ne 0 && -z "$TABLE_DONE" ]]; then
    echo "bench: failed (exit $rc); logs:" >&2
    for f in "$WORK"/server.log "$WORK"/agent-*.log; do
      [[ -f "$f" ]] && { echo "--- tail $f" >&2; tail -20 "$f" >&2; }
    done
  fi
  if [[ "${BENCH_KEEP:-}" == 1 ]]; then
    rm -rf "$WORK/disk.raw" "$WORK/www" "$WORK"/cache-* "$WORK/curl.out" "$WORK"/nbdkit-tmp
    echo "bench: kept $WORK (images and caches removed)" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOADS=()
note_load() {
  local l; l=$(cut -d' ' -f1-3 /proc/loadavg)
  LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
  echo "load before $1: $l; busy others: $(others)"
}
uri() { echo "nbd+unix:///?socket=$1"; }
# cpu_secs PID: user+system CPU seconds the process has used so far (all its threads)

# ---------------------------------------------------------------------------------------------- header
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '+dirty' || true)
HEADER="bench/agent.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $COMMIT$DIRTY  nproc $(nproc)  $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)  loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)
$(java -version 2>&1 | head -1); $(fio --version); $(qemu-nbd --version | head -1); nbdkit $(nbdkit --version | awk '{print $2}'); $(nbdcopy --version 2>&1 | head -1); $(nginx -v 2>&1 | sed 's/^nginx version: //') (1 worker, sendfile)
image ${IMAGE_MIB} MiB from /dev/urandom; fio jobs ${DURATION} s; work dir $WORK ($(df --output=source,fstype "$WORK" | tail -1 | tr -s ' '))"
echo "$HEADER"

# ---------------------------------------------------------------------------------------------- build
build_sluice agent
AGENT_JAR=$REPO/agent/target/sluice-agent.jar
# Agents start through the launcher, agent/bin/sluice-agent, as a host would run them: its class-data sharing archive
# (kept in the work dir, so every run starts without one) is written when the first warm-up agent exits and used by
# every later start. BENCH_AGENT_CDS=0: plain `java -jar`.
if [[ "${BENCH_AGENT_CDS:-1}" == 1 ]]; then
  AGENT_CMD=(env SLUICE_AGENT_JAR="$AGENT_JAR" SLUICE_AGENT_CDS_DIR="$WORK/cds" "$REPO/agent/bin/sluice-agent")
else
  AGENT_CMD=(java -jar "$AGENT_JAR")
fi

log "writing ${IMAGE_MIB} MiB of /dev/urandom to $WORK/disk.raw"
head -c "$SIZE" /dev/urandom >"$WORK/disk.raw"
sync "$WORK/disk.raw"

# ---------------------------------------------------------------------------------------------- control plane, nginx
PORT=$(free_port)
ADMIN=$(rand_hex 24)
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK/data"
SLUICE_DATA_DIR="$WORK/data" SLUICE_BOOTSTRAP_TOKEN="$ADMIN" SLUICE_HTTP_PORT="$PORT" SLUICE_HTTP_HOST=127.0.0.1 \
  java -jar target/quarkus-app/quarkus-run.jar >"$WORK/server.log" 2>&1 &
PIDS+=($!)
CP_PID=$!
log "started the control plane (pid $!) on $BASE"
wait_http "$BASE/q/health/ready" "$!" "the control plane"

mkdir -p "$WORK/www" "$WORK/nginx/tmp"
ln "$WORK/disk.raw" "$WORK/www/disk.raw"
NPORT=$(free_port)
NGINX_USER=
if [[ $EUID -eq 0 ]]; then NGINX_USER="user root root;"; fi
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
daemon off;
worker_processes 1;
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
PIDS+=($!)
NGINX_URL=http://127.0.0.1:$NPORT/disk.raw
wait_http "$NGINX_URL" "$!" nginx 2>/dev/null || { cat "$WORK/nginx/error.log" >&2; exit 1; }
log "started nginx (pid $!) on $NGINX_URL"

SUFFIX=$(rand_hex 4)
TENANT=$(api POST /api/v1/tenants "$ADMIN" "{\"name\":\"agentbench-$SUFFIX\"}" | jq -r .id)
MEMBER=$(api POST "/api/v1/tenants/$TENANT/tokens" "$ADMIN" '{"name":"bench","role":"tenant-member"}' | jq -r .secret)
IMAGE=$(api POST /api/v1/images "$MEMBER" "{\"name\":\"agentbench-$SUFFIX\",\"sizeBytes\":$SIZE}" | jq -r .id)
log "uploading the image ($IMAGE)"
up=$(curl -sS -o "$WORK/upload.json" -w '%{http_code}' -T "$WORK/disk.raw" -H 'Expect:' \
     -H "Authorization: Bearer $MEMBER" -H 'Content-Type: application/octet-stream' "$BASE/api/v1/images/$IMAGE/content")
[[ "$up" == 2* && "$(jq -r '.state // empty' "$WORK/upload.json")" == available ]] \
  || { log "upload answered $up: $(head -c 2000 "$WORK/upload.json")"; exit 1; }

# new_machine NAME: a machine on the image and its credential; prints "ID SECRET"
new_machine() {
  local id secret
  id=$(api POST /api/v1/machines "$MEMBER" "{\"name\":\"$1-$SUFFIX\",\"imageId\":\"$IMAGE\"}" | jq -r .id)
  secret=$(api POST "/api/v1/machines/$id/credentials" "$MEMBER" "{\"name\":\"$1\"}" | jq -r .secret)
  echo "$id $secret"
}
# start_agent NAME [agent options...]: a fresh machine, cache dir $WORK/cache-NAME, socket $WORK/NAME.sock,
# log $WORK/agent-NAME.log; sets AGENT_PID and AGENT_T0 (epoch seconds just before the JVM starts)
start_agent() {
  local name=$1 id secret
  shift
  read -r id secret <<<"$(new_machine "$name")"
  rm -rf "$WORK/cache-$name"
  AGENT_T0=$(now)
  SLUICE_TOKEN="$secret" "${AGENT_CMD[@]}" run --control-plane "$BASE" --machine "$id" \
    --cache-dir "$WORK/cache-$name" --nbd-unix "$WORK/$name.sock" "$@" >"$WORK/agent-$name.log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  log "agent $name (pid $AGENT_PID, machine $id): $*"
  wait_sock "$WORK/$name.sock" "$AGENT_PID" "agent $name"
}
status_json() { "${AGENT_CMD[@]}" status --cache-dir "$WORK/cache-$1" --json; }
# wait_complete NAME PID: until the agent logs "prefetch complete" (looked for every 0.1 s with grep), then until
# `status --json` confirms every block present (the agent writes its status file every 2 s); prints the epoch second
# of that log line. The status command is a JVM of its own: polled during the prefetch (as it once was, every 2 s), each
# start took a few tenths of a CPU-second from the 2 CPUs the prefetch runs on, so it runs only after the end.
wait_complete() {
  local name=$1 pid=$2 s line
  for _ in $(seq 1 72000); do
    kill -0 "$pid" 2>/dev/null || { log "agent $name exited during prefetch"; return 1; }
    line=$(grep -m1 'prefetch complete' "$WORK/agent-$name.log" || true)
    [[ -z "$line" ]] || break
    sleep 0.1
  done
  [[ -n "$line" ]] || { log "agent $name: prefetch not complete after 2 h"; return 1; }
  for _ in $(seq 1 20); do
    s=$(status_json "$name" 2>/dev/null || true)
    if [[ -n "$s" && "$(jq -r '.blocks.present == .blocks.total' <<<"$s")" == true ]]; then
      echo "$s" >"$WORK/status-$name.json"
      date -d "${line%% *}" +%s.%N
      return 0
    fi
    sleep 1
  done
  log "agent $name logged '$line' but its status does not show every block present: $s"; return 1
}

# fio_run NAME URI RW BS QD [BYTES]: JSON into $WORK/fio-NAME.json; fio works on the first BYTES (default: the disk)
fio_run() {
  fio --name="$1" --ioengine=nbd --uri="$2" --size="${6:-$SIZE}" --time_based --runtime="$DURATION" --rw="$3" --bs="$4" \
      --iodepth="$5" --numjobs=1 --randrepeat=1 --output-format=json >"$WORK/fio-$1.out" 2>"$WORK/fio-$1.err" \
    || { cat "$WORK/fio-$1.out" "$WORK/fio-$1.err" >&2; log "fio $1 failed"; return 0; }
  # fio's nbd engine prints "fio: connected to NBD server" on stdout before the JSON
  sed -n '/^{/,$p' "$WORK/fio-$1.out" >"$WORK/fio-$1.json"
  local errs; errs=$(jq '.jobs[0].error' "$WORK/fio-$1.json" 2>/dev/null || echo '?')
  [[ "$errs" == 0 ]] || { log "fio $1: error $errs"; rm -f "$WORK/fio-$1.json"; }
}
fio_iops() { [[ -f "$WORK/fio-$1.json" ]] && jq -r '.jobs[0].read.iops | . * 10 | round / 10' "$WORK/fio-$1.json" || echo FAIL; }
fio_mibs() { [[ -f "$WORK/fio-$1.json" ]] && jq -r '.jobs[0].read.bw_bytes / 1048576 | . * 10 | round / 10' "$WORK/fio-$1.json" || echo FAIL; }
fio_p99() { [[ -f "$WORK/fio-$1.json" ]] && jq -r '.jobs[0].read.clat_ns.percentile["99.000000"] / 1000 | round' "$WORK/fio-$1.json" || echo FAIL; }
# copy_secs URI: seconds nbdcopy takes to read the whole disk to null:, or FAIL
copy_secs() {
  local t0 t1
  t0=$(now)
  nbdcopy "$1" null: 2>"$WORK/nbdcopy.err" || { cat "$WORK/nbdcopy.err" >&2; log "nbdcopy $1 failed"; echo FAIL; return; }
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}
# median V...: the median of the values, or FAIL if one of them is
median() { if [[ " $* " == *" FAIL "* ]]; then echo FAIL; else stats "$@" | cut -d' ' -f1; fi; }
mibs_of_secs() { [[ "$1" == FAIL ]] && echo FAIL || awk -v s="$1" -v m="$IMAGE_MIB" 'BEGIN {printf "%.1f", m / s}'; }
# same_bytes URI: "ok" if the export reads back as the raw file
same_bytes() {
  if nbdcopy "$1" - 2>/dev/null | cmp -s - "$WORK/disk.raw"; then echo ok; else echo WRONG; fi
}

ROWS=()
# row TEST OURS PEER GOAL_KIND GOAL: GOAL_KIND ge (ratio ours/peer >= GOAL) or le (ratio <= GOAL)
row() {
  local test=$1 s=$2 p=$3 kind=$4 goal=$5 ratio mark g
  [[ $kind == ge ]] && g=">= $goal" || g="<= $goal"
  if [[ "$s" == FAIL || "$p" == FAIL || -z "$s" || -z "$p" ]]; then ratio=-; mark=FAIL
  else
    ratio=$(awk -v a="$s" -v b="$p" 'BEGIN {printf "%.2f", a / b}')
    mark=$(awk -v r="$ratio" -v g="$goal" -v k="$kind" 'BEGIN {print ((k == "ge" ? r >= g : r <= g) ? "PASS" : "MISS")}')
  fi
  ROWS+=("$(printf '%-46s %12s %12s %7s %8s  %s' "$test" "$s" "$p" "$ratio" "$g" "$mark")")
}

# wrk_warmup: BENCH_WARMUP_WRK seconds (default 20) of wrk against the block-run endpoint with a machine credential,
# so the control plane's per-request path (authentication, authorization, the run streamer) is compiled as on a
# control plane that has served for a while; a few hundred requests of whole-disk copies are not enough
wrk_warmup() {
  local id secret secs=${BENCH_WARMUP_WRK:-20}
  (( secs > 0 )) || return 0
  command -v wrk >/dev/null || { log "wrk missing: no request warm-up"; return 0; }
  read -r id secret <<<"$(new_machine wrkwarm)"
  wrk -t1 -c8 -d"${secs}s" -H "Authorization: Bearer $secret" "$BASE/api/v1/images/$IMAGE/blocks?start=0&count=16" \
    >"$WORK/wrk-warmup.txt" 2>&1 || true
  log "request warm-up: $(grep -E 'Requests/sec' "$WORK/wrk-warmup.txt" | tr -s ' ') (wrk, ${secs} s, runs of 16 blocks)"
}

# ---------------------------------------------------------------------------------------------- 0. warm-up

# A freshly started control plane spends its first minutes JIT-compiling (about 100 CPU-seconds of C2 on the 2-CPU
# development machine), which would land in whichever row comes first; the warm-up times are printed, not compared.
# Rounds of one cold copy and one full prefetch (runs of 8 MiB take code paths the read-ahead copies do not) through
# throwaway agents, until the control plane's JIT compiler threads used less than BENCH_WARMUP_JIT CPU-seconds during a
# round (at least BENCH_WARMUP_COPIES rounds, at most BENCH_WARMUP_MAX): a control plane that has served for hours has compiled its request
# path; one that has served two copies had not (perf during a prefetch after two warm-up copies: 45-50 % of its CPU
# in the C1/C2 compiler threads, compiling Vert.x, Hibernate and H2 code of the per-request authorization).
jit_secs() { # CPU seconds the JIT compiler threads of PID have used so far
  local t tck; tck=$(getconf CLK_TCK)
  for t in /proc/"$1"/task/*; do
    if grep -q '^C[12] CompilerThre' "$t/comm" 2>/dev/null; then awk '{sub(/.*\) /, ""); print $12 + $13}' "$t/stat"; fi
  done | awk -v tck="$tck" '{s += $1} END {printf "%.2f", s / tck}'
}
note_load "0 request warm-up"
j0=$(jit_secs "$CP_PID")
wrk_warmup
WRK_JIT=$(awk -v a="$j0" -v b="$(jit_secs "$CP_PID")" 'BEGIN {printf "%.2f", b - a}')
WARMUP_TIMES=()
WARMUP_PF_TIMES=()
WARMUP_JIT=()
for i in $(seq 1 "$WARMUP_MAX"); do
  j0=$(jit_secs "$CP_PID")
  note_load "0 warm-up round $i"
  start_agent "warmup$i" --prefetch off
  WARMUP_TIMES+=("$(copy_secs "$(uri "$WORK/warmup$i.sock")")")
  stop_pid "$AGENT_PID"
  rm -rf "$WORK/cache-warmup$i"
  start_agent "warmpf$i" --prefetch-rate 0
  t1=$(wait_complete "warmpf$i" "$AGENT_PID")
  WARMUP_PF_TIMES+=("$(awk -v a="$AGENT_T0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')")
  stop_pid "$AGENT_PID"
  rm -rf "$WORK/cache-warmpf$i"
  jit=$(awk -v a="$j0" -v b="$(jit_secs "$CP_PID")" 'BEGIN {printf "%.2f", b - a}')
  WARMUP_JIT+=("$jit")
  log "warm-up round $i: control plane JIT threads $jit CPU-s"
  if (( i >= WARMUP_COPIES )) && awk -v j="$jit" -v t="$WARMUP_JIT_GOAL" 'BEGIN {exit !(j < t)}'; then break; fi
done

# ---------------------------------------------------------------------------------------------- 1. warm reads
note_load "1 (warm agent prefetch, unlimited rate)"
start_agent warm --prefetch-rate 0
WARM_PID=$AGENT_PID
wait_complete warm "$WARM_PID" >/dev/null
qemu-nbd -f raw -t -k "$WORK/qemu.sock" -e 8 "$WORK/disk.raw" >"$WORK/qemu-nbd.log" 2>&1 &
QEMU_PID=$!
PIDS+=("$QEMU_PID")
wait_sock "$WORK/qemu.sock" "$QEMU_PID" qemu-nbd
WARM_BYTES=$(same_bytes "$(uri "$WORK/warm.sock")")
log "warm agent: bytes $WARM_BYTES"
for spec in "r4k1 randread 4k 1" "r4k32 randread 4k 32" "seq1m read 1m 8"; do
  read -r tag rw bs qd <<<"$spec"
  for who in warm qemu; do
    note_load "1 fio $tag $who"
    fio_run "$tag-$who" "$(uri "$WORK/$who.sock")" "$rw" "$bs" "$qd"
  done
done
note_load "1 nbdcopy warm"
COPY_WARM=$(mibs_of_secs "$(copy_secs "$(uri "$WORK/warm.sock")")")
note_load "1 nbdcopy qemu"
COPY_QEMU=$(mibs_of_secs "$(copy_secs "$(uri "$WORK/qemu.sock")")")
row "1 warm 4 KiB randread QD1, IOPS" "$(fio_iops r4k1-warm)" "$(fio_iops r4k1-qemu)" ge 0.8
row "1 warm 4 KiB randread QD32, IOPS" "$(fio_iops r4k32-warm)" "$(fio_iops r4k32-qemu)" ge 0.8
row "1 warm 1 MiB seq read QD8, MiB/s" "$(fio_mibs seq1m-warm)" "$(fio_mibs seq1m-qemu)" ge 0.8
row "1 warm nbdcopy to null:, MiB/s" "$COPY_WARM" "$COPY_QEMU" ge 0.8
stop_pid "$WARM_PID"; stop_pid "$QEMU_PID"
rm -rf "$WORK/cache-warm"

# ---------------------------------------------------------------------------------------------- 2. cold reads
# BENCH_ROUNDS rounds, each a fresh agent and then a fresh nbdkit (alternating, so a drift of the machine hits both);
# the row compares the medians. The last round's agent is also checked (bytes, status).
COLD_RUNS=(); NBDKIT_RUNS=()
for ((round = 1; round <= ROUNDS; round++)); do
  note_load "2 cold agent, round $round"
  start_agent "cold$round" --prefetch off   # a machine per round: names are unique in a tenant
  COLD_PID=$AGENT_PID
  c0=$(cpu_secs "$CP_PID"); a0=$(cpu_secs "$COLD_PID")
  COLD_RUNS+=("$(copy_secs "$(uri "$WORK/cold$round.sock")")")
  COLD_CPU="control plane $(cpu_delta "$c0" "$(cpu_secs "$CP_PID")") s, agent $(cpu_delta "$a0" "$(cpu_secs "$COLD_PID")") s"
  if ((round == ROUNDS)); then
    sleep 3   # status reads what is durable: the agent flushes its map and status file every 2 s
    COLD_STATUS=$(status_json "cold$round" 2>/dev/null | jq -c '{blocks, prefetch, fetched}' || echo '?')
    COLD_BYTES=$(same_bytes "$(uri "$WORK/cold$round.sock")")
  fi
  stop_pid "$COLD_PID"
  rm -rf "$WORK/cache-cold$round"
  mkdir -p "$WORK/nbdkit-tmp"
  note_load "2 cold nbdkit, round $round"
  TMPDIR="$WORK/nbdkit-tmp" nbdkit -f -U "$WORK/nbdkit$round.sock" --filter=cache curl "url=$NGINX_URL" \
    >"$WORK/nbdkit.log" 2>&1 &
  NBDKIT_PID=$!
  PIDS+=("$NBDKIT_PID")
  wait_sock "$WORK/nbdkit$round.sock" "$NBDKIT_PID" nbdkit
  n0=$(cpu_secs "$NBDKIT_PID")
  NBDKIT_RUNS+=("$(copy_secs "$(uri "$WORK/nbdkit$round.sock")")")
  NBDKIT_CPU=$(cpu_delta "$n0" "$(cpu_secs "$NBDKIT_PID")")
  stop_pid "$NBDKIT_PID"
  rm -rf "$WORK/nbdkit-tmp"
done
COLD_S=$(median "${COLD_RUNS[@]}")
NBDKIT_S=$(median "${NBDKIT_RUNS[@]}")
log "cold agent: ${COLD_RUNS[*]} s, nbdkit ${NBDKIT_RUNS[*]} s; last cold agent's bytes afterwards: $COLD_BYTES; status $COLD_STATUS"
row "2 cold nbdcopy whole disk, s (lower better)" "$COLD_S" "$NBDKIT_S" le 1.0

# ---------------------------------------------------------------------------------------------- 3. full prefetch
PF_RUNS=(); PF_RUNS2=(); CURL_RUNS=()
for ((round = 1; round <= ROUNDS; round++)); do
  note_load "3 prefetch, round $round"
  c0=$(cpu_secs "$CP_PID")
  start_agent "prefetch$round" --prefetch-rate 0
  PF_PID=$AGENT_PID
  PF_T1=$(wait_complete "prefetch$round" "$PF_PID")
  PF_CPU="control plane $(cpu_delta "$c0" "$(cpu_secs "$CP_PID")") s, agent $(cpu_delta 0 "$(cpu_secs "$PF_PID")") s since its start (JVM start included)"
  PF_RUNS+=("$(awk -v a="$AGENT_T0" -v b="$PF_T1" 'BEGIN {printf "%.3f", b - a}')")
  # the same end, measured from the agent's first log line (after JVM start and GET /api/v1/machines/{id}; the JVM's
  # own messages, e.g. the launcher's "compiler directives added", carry no timestamp)
  PF_FIRST=$(date -d "$(grep -m1 -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$WORK/agent-prefetch$round.log" | cut -d' ' -f1)" +%s.%N 2>/dev/null || echo "$AGENT_T0")
  PF_RUNS2+=("$(awk -v a="$PF_FIRST" -v b="$PF_T1" 'BEGIN {printf "%.3f", b - a}')")
  ((round < ROUNDS)) || PF_BYTES=$(same_bytes "$(uri "$WORK/prefetch$round.sock")")
  stop_pid "$PF_PID"
  rm -rf "$WORK/cache-prefetch$round"
  note_load "3 curl, round $round"
  c=$(curl -sS -o "$WORK/curl.out" -w '%{time_total}' "$NGINX_URL")
  cmp -s "$WORK/curl.out" "$WORK/disk.raw" || { log "curl download differs from the raw file"; c=FAIL; }
  CURL_RUNS+=("$c")
  rm -f "$WORK/curl.out"
done
PF_S=$(median "${PF_RUNS[@]}")
PF_S2=$(median "${PF_RUNS2[@]}")
CURL_S=$(median "${CURL_RUNS[@]}")
log "prefetch: ${PF_RUNS[*]} s (agent start to every block present; last run's bytes $PF_BYTES); curl -o: ${CURL_RUNS[*]} s"
row "3 full prefetch vs curl -o, MiB/s" "$(mibs_of_secs "$PF_S")" "$(mibs_of_secs "$CURL_S")" ge 0.8

# ---------------------------------------------------------------------------------------------- 4. p99 under prefetch
RATE=$(awk -v m="$IMAGE_MIB" -v d="$DURATION" 'BEGIN {r = int(m / (2 * d)); print (r < 1 ? 1 : r)}')
# 4: a fresh agent with the throttle; fio reads only the prefix prefetch has already made present, once a quarter of
# the disk is (prefetch walks the disk sequentially when nothing else is read), so no read is a demand miss and the
# p99 shows what the running prefetch costs a guest's read. The idle run afterwards reads the same prefix of the same
# agent once its prefetch is complete.
note_load "4 latency during prefetch, present prefix"
: >"$WORK/no-priority"   # disk order: the learned profile (earlier agents' misses) would scatter the present blocks
start_agent pfx --prefetch-rate "$RATE" --boot-hold 0 --prefetch-order "$WORK/no-priority"
PFX_PID=$AGENT_PID
PFX_BYTES_READ=0
PFX_PRESENT=?
PFX_STATE=?
for _ in $(seq 1 $((DURATION * 4 + 60))); do
  st=$(status_json pfx 2>/dev/null || true)
  [[ -n "$st" ]] || { sleep 0.5; continue; }
  p=$(jq -r '.blocks.present' <<<"$st")
  bsz=$(jq -r '.blockSize' <<<"$st")
  if (( p * 4 >= SIZE / bsz )); then PFX_BYTES_READ=$(( (p - 1) * bsz / 4096 * 4096 )); PFX_PRESENT=$p; break; fi
  sleep 0.5
done
if (( PFX_BYTES_READ > 0 )); then
  fio_run lat-pfx "$(uri "$WORK/pfx.sock")" randread 4k 1 "$PFX_BYTES_READ"
  PFX_STATE=$(status_json pfx 2>/dev/null | jq -r '"\(.prefetch), \(.blocks.present)/\(.blocks.total) present, \(.fetched.blocks) fetched"' || echo '?')
  wait_complete pfx "$PFX_PID" >/dev/null
  note_load "4 latency idle, present prefix"
  fio_run lat-pfx-idle "$(uri "$WORK/pfx.sock")" randread 4k 1 "$PFX_BYTES_READ"
else
  log "4: prefetch did not reach a quarter of the disk in time"
fi
stop_pid "$PFX_PID"
rm -rf "$WORK/cache-pfx"
# 4b (informational): fio over the whole disk while prefetch runs (misses included), vs the same agent once complete
note_load "4b latency during prefetch, whole disk"
start_agent lat --prefetch-rate "$RATE" --boot-hold 0
LAT_PID=$AGENT_PID
fio_run lat-busy "$(uri "$WORK/lat.sock")" randread 4k 1
LAT_STATE=$(status_json lat 2>/dev/null | jq -r '"\(.prefetch), \(.blocks.present)/\(.blocks.total) present"' || echo '?')
log "after the fio run during prefetch: $LAT_STATE"
wait_complete lat "$LAT_PID" >/dev/null
note_load "4b latency idle, whole disk"
fio_run lat-idle "$(uri "$WORK/lat.sock")" randread 4k 1
stop_pid "$LAT_PID"
rm -rf "$WORK/cache-lat"
# 4c (informational): the same fio run against a fresh agent with --prefetch off, so every read of an absent block
# is a miss with nothing in the background: 4b / 4c is what the running prefetch costs the guest's misses
note_load "4c latency without prefetch"
start_agent nopf --prefetch off
NOPF_PID=$AGENT_PID
fio_run lat-nopf "$(uri "$WORK/nopf.sock")" randread 4k 1
stop_pid "$NOPF_PID"
rm -rf "$WORK/cache-nopf"
row "4 4k QD1 p99 µs present blocks, prefetch/idle" "$(fio_p99 lat-pfx)" "$(fio_p99 lat-pfx-idle)" le 2.0
row "4b same, whole disk, misses incl. (info)" "$(fio_p99 lat-busy)" "$(fio_p99 lat-idle)" le 2.0
row "4c 4b vs a fresh agent without prefetch (info)" "$(fio_p99 lat-busy)" "$(fio_p99 lat-nopf)" le 2.0

# ---------------------------------------------------------------------------------------------- table
echo
echo "$HEADER"
echo "load1 before each test: ${LOADS[*]}"
printf '%-46s %12s %12s %7s %8s  %s\n' test "sluice agent" peer ratio goal mark
for r in "${ROWS[@]}"; do echo "$r"; done
echo "0: control plane warm-up rounds through throwaway agents (not compared): cold nbdcopy s: ${WARMUP_TIMES[*]:-none}; full prefetch s: ${WARMUP_PF_TIMES[*]:-none}; control plane JIT CPU-s during the wrk request warm-up: $WRK_JIT, per round: ${WARMUP_JIT[*]:-none}"
if [[ "${BENCH_AGENT_CDS:-1}" == 1 ]]; then
  echo "agents: agent/bin/sluice-agent, CDS archive $(du -h "$WORK"/cds/*.jsa 2>/dev/null | cut -f1 | head -1 || true) (written by the first warm-up agent)"
else
  echo "agents: java -jar (BENCH_AGENT_CDS=0)"
fi
echo "peers: 1 qemu-nbd -f raw -t -e 8 on the raw file; 2 nbdkit --filter=cache curl over nginx; 3 curl -o file from nginx; 4, 4b the same agent, idle"
echo "bytes read back = raw file: warm agent $WARM_BYTES, last cold agent (after its copy) $COLD_BYTES, last prefetched agent $PF_BYTES"
echo "2: cold nbdcopy s per round: agent ${COLD_RUNS[*]}; nbdkit ${NBDKIT_RUNS[*]}"
echo "2: last cold agent after its nbdcopy: $COLD_STATUS"
echo "2: CPU seconds during the last round's cold copy: $COLD_CPU; nbdkit $NBDKIT_CPU s"
echo "3: agent process start -> prefetch complete, median $PF_S s of ${PF_RUNS[*]} (from its first log line: $PF_S2 s = $(mibs_of_secs "$PF_S2") MiB/s); curl -o, median $CURL_S s of ${CURL_RUNS[*]}
3: CPU seconds during the last round's prefetch: $PF_CPU"
echo "4: --prefetch-rate $RATE MiB/s, --boot-hold 0; fio read the first $PFX_BYTES_READ bytes from when $PFX_PRESENT blocks were present; at its end: $PFX_STATE; p50 µs busy $(jq -r '.jobs[0].read.clat_ns.percentile["50.000000"] / 1000 | round' "$WORK/fio-lat-pfx.json" 2>/dev/null || echo ?), idle $(jq -r '.jobs[0].read.clat_ns.percentile["50.000000"] / 1000 | round' "$WORK/fio-lat-pfx-idle.json" 2>/dev/null || echo ?); IOPS busy $(fio_iops lat-pfx), idle $(fio_iops lat-pfx-idle)"
echo "4b: fio QD1 randread over the whole disk, p50 µs busy $(jq -r '.jobs[0].read.clat_ns.percentile["50.000000"] / 1000 | round' "$WORK/fio-lat-busy.json" 2>/dev/null || echo ?), idle $(jq -r '.jobs[0].read.clat_ns.percentile["50.000000"] / 1000 | round' "$WORK/fio-lat-idle.json" 2>/dev/null || echo ?); IOPS busy $(fio_iops lat-busy), idle $(fio_iops lat-idle); agent at the end of the busy run: $LAT_STATE"
echo "4c: --prefetch off, fio QD1 randread p50 µs $(jq -r '.jobs[0].read.clat_ns.percentile["50.000000"] / 1000 | round' "$WORK/fio-lat-nopf.json" 2>/dev/null || echo ?), IOPS $(fio_iops lat-nopf)"
nerr=$(grep -c ' ERROR ' "$WORK/server.log" || true)
echo "server log: $(wc -l <"$WORK/server.log") lines, $nerr ERROR; agent logs: $(cat "$WORK"/agent-*.log | grep -ciE 'error|exception|fail' || true) lines with error/exception/fail"
TABLE_DONE=1
if printf '%s\n' "${ROWS[@]}" | grep -q ' FAIL$' || [[ "$WARM_BYTES$COLD_BYTES$PF_BYTES" != okokok ]]; then
  echo "FAILED"; exit 1
fi
