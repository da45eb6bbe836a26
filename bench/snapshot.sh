#!/usr/bin/env bash
# bench/snapshot.sh: snapshot upload (issue 5, acceptance 6) against curl PUTting the same number of bytes, in one
# run on one machine. One random (incompressible) raw image is uploaded to the embedded control plane; one agent
# (the real sluice-agent.jar) serves it over NBD and hydrates it completely first (--prefetch-rate 0), so the
# snapshots read every block from the local cache and no prefetch competes with them. Then, for each dirty share
# (1 %, 10 %, 100 % of the blocks by default), in turn:
#
#   1. nbdsh writes fresh random bytes (os.urandom) over that many whole blocks, chosen at random across the disk
#      (seeded), then flushes;
#   2. POST /api/v1/machines/{id}/snapshots, then GET /api/v1/operations/{op} (after 0.3 s, then every 0.2 s) until done. The time is
#      the operation's createdAt -> updatedAt (request accepted -> snapshot committed, server clock), so the poll
#      interval does not count; the time the client saw (POST sent -> done seen) is printed too. Bytes sent and
#      blocks come from the operation's progress;
#   3. the peer: curl -T of a fresh random file of exactly the dirty data bytes (blocks x block size) to
#      PUT /api/v1/images/{id}/content of a new image of that size, time until the `available` answer.
#
# Why that peer: it is the same server, store and network path, and the same work per byte on the server side
# (every block hashed with SHA-256 and stored content-addressed as a new block, then a manifest committed), done by
# the plainest client there is, in one streamed request. The snapshot additionally carries the command channel
# (the agent long-polls; the server looks for new commands every 250 ms), the agent's cut (fsync), a SHA-256 per
# block on the agent, 4 MiB batches each answered after its blocks are durable and recorded, and the commit. The snapshot's
# frames carry 45 bytes of header per block (0.07 % at 64 KiB), which "bytes sent" includes and the peer does not.
#
# Before the measured rounds, one unmeasured snapshot of BENCH_WARMUP_PCT % of the blocks warms the snapshot path
# (the JIT compiles it: in a fresh JVM the compiler threads used more CPU during the first snapshot than the request
# threads), as the upload of the base image warms the path curl takes. The default is 100 %, the same 1 GiB the base
# upload gives curl's path (with 10 %, the JIT threads still used 2-3 CPU-s during the measured 1 GiB snapshot
# against 0.5 during curl's upload).
#
# Goal: snapshot time <= 1.3 x curl's at every size, and time proportional to the dirty bytes.
# After the last snapshot its image is downloaded (disk endpoint) and compared with the agent's disk (nbdcopy).
#
# Run from the repository root (needs java, mvn, curl, jq, nbdsh, nbdcopy):
#   bench/snapshot.sh                                  # build both, 1 GiB image, 1/10/100 % (about 3 min + build)
#   BENCH_IMAGE_MIB=128 bench/snapshot.sh              # quick run
#   BENCH_SKIP_BUILD=1 bench/snapshot.sh               # reuse target/quarkus-app (embedded) and agent/target/sluice-agent.jar
#
# Environment:
#   BENCH_IMAGE_MIB    image size in MiB (default 1024)
#   BENCH_DIRTY_PCTS   dirty shares in percent, in the order run (default "1 10 100")
#   BENCH_ROUNDS       rounds per dirty share (default 3): each round dirties fresh blocks, snapshots them and uploads
#                      as many bytes with curl; the table shows the medians (a 1 % snapshot takes ~0.1 s, where one
#                      scheduling hiccup is tens of percent)
#   BENCH_SEED         seed of the dirty-block choice (default 42)
#   BENCH_WARMUP_PCT   dirty share of the unmeasured warm-up snapshot (default 100; 0 skips it)
#   BENCH_WARMUP_ROUNDS unmeasured rounds of the first dirty share after it, a snapshot and a curl upload each (default 3)
#   BENCH_VERIFY=0     skip the final comparison of the last snapshot with the agent's disk
#   BENCH_SKIP_BUILD=1 reuse the builds as they are
#   BENCH_KEEP=1       keep the work directory (logs) without the images and caches
#   BENCH_TMPDIR       where the work directory is created (default /tmp, or target/ if /tmp is a tmpfs)
#   BENCH_THREADS=1    also print, for each snapshot and curl, the CPU seconds (user/system) of the busiest thread
#                      groups of the control plane and the agent (from /proc/PID/task/*/stat; names with digits folded)
set -euo pipefail

IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
PCTS=${BENCH_DIRTY_PCTS:-1 10 100}
SEED=${BENCH_SEED:-42}
WARMUP_PCT=${BENCH_WARMUP_PCT:-100}
WARMUP_ROUNDS=${BENCH_WARMUP_ROUNDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
GOAL=1.3

cd "$(dirname "$0")/.."
source bench/lib.sh
REPO=$(pwd)
for tool in java mvn curl jq nbdsh nbdcopy awk cmp; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[[ "$IMAGE_MIB" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_IMAGE_MIB must be a positive integer" >&2; exit 1; }
for p in $PCTS; do
  [[ "$p" =~ ^[0-9]+$ ]] && (( p >= 1 && p <= 100 )) || { echo "bench: BENCH_DIRTY_PCTS: '$p' is not a percentage 1..100" >&2; exit 1; }
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_ROUNDS must be a positive integer" >&2; exit 1; }
[[ "$SEED" =~ ^[0-9]+$ ]] || { echo "bench: BENCH_SEED must be a non-negative integer" >&2; exit 1; }
[[ "$WARMUP_PCT" =~ ^[0-9]+$ ]] && (( WARMUP_PCT <= 100 )) || { echo "bench: BENCH_WARMUP_PCT must be 0..100" >&2; exit 1; }
[[ "$WARMUP_ROUNDS" =~ ^[0-9]+$ ]] || { echo "bench: BENCH_WARMUP_ROUNDS must be a number" >&2; exit 1; }
SIZE=$((IMAGE_MIB * 1024 * 1024))
# nbdsh runs "python3" from PATH and needs the distribution's one (libnbd's bindings), not a pyenv or venv python
export PATH=/usr/bin:$PATH
nbdsh -c pass >/dev/null 2>&1 || { echo "bench: nbdsh does not run (python3 -c 'import nbd' fails?)" >&2; exit 1; }

TMPBASE=${BENCH_TMPDIR:-/tmp}
if [[ -z "${BENCH_TMPDIR:-}" ]] && [[ "$(stat -f -c %T /tmp)" == tmpfs || "$(stat -f -c %T /tmp)" == ramfs ]]; then
  mkdir -p "$REPO/target"; TMPBASE=$REPO/target
fi
WORK=$(mktemp -d "$TMPBASE/sluice-snapbench.XXXXXX")
PIDS=()          # everything we started, stopped in reverse order by the trap
TABLE_DONE=
cleanup() {
  local rc=$? i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [[ $rc -ne 0 && -z "$TABLE_DONE" ]]; then
    echo "bench: failed (exit $rc); logs:" >&2
    for f in "$WORK"/server.log "$WORK"/agent.log; do
      [[ -f "$f" ]] && { echo "--- tail $f" >&2; tail -20 "$f" >&2; }
    done
  fi
  if [[ "${BENCH_KEEP:-}" == 1 ]]; then
    rm -rf "$WORK/disk.raw" "$WORK/peer.raw" "$WORK/cache" "$WORK/data/blocks" "$WORK/snap.raw" "$WORK/agent.raw"
    echo "bench: kept $WORK (images, caches and blocks removed)" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
# ms-resolution seconds, for the measured snapshot time (a 1 % snapshot takes ~0.1 s: two decimals hid 10 %)
secs3() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
LOADS=()
note_load() {
  LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
  log "load before $1: $(cut -d' ' -f1-3 /proc/loadavg); busy others: $(others)"
}
# cpu_secs PID: user+system CPU seconds the process has used so far (all its threads)
# epoch seconds of the first agent log line containing $1 (the agent prefixes each line with an ISO instant)
# thread_cpu PID: one line per thread group (name with digits folded to N): user and system clock ticks so far
thread_cpu() {
  local f
  # a thread may end between the glob and its read: that is no failure (set -e, pipefail)
  for f in /proc/"$1"/task/*/stat; do cat "$f" 2>/dev/null || true; done \
    | sed -E 's/^[0-9]+ \((.*)\) (.*)$/\1\t\2/' | awk -F'\t' '{n = $1; gsub(/[0-9]+/, "N", n); gsub(/ /, "_", n); split($2, f, " ");
        u[n] += f[12]; s[n] += f[13]} END {for (n in u) print n, u[n], s[n]}'
}
# thread_cpu_delta BEFORE AFTER: the thread groups that used CPU in between, busiest first ("name user/sys s")
thread_cpu_delta() {
  awk -v t="$(getconf CLK_TCK)" 'NR == FNR {u[$1] = $2; s[$1] = $3; next}
      {du = ($2 - u[$1]) / t; ds = ($3 - s[$1]) / t; if (du + ds >= 0.02) printf "%.2f %s %.2f/%.2f\n", du + ds, $1, du, ds}' "$1" "$2" \
    | sort -rn | head -"${3:-8}" | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $3} END {print ""}'
}
agent_time() {
  local line; line=$(grep -m1 -F -- "$1" "$WORK/agent.log" || true)
  [[ -n "$line" ]] && date -d "${line%% *}" +%s.%N || echo ''
}

# ---------------------------------------------------------------------------------------------- header
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '+dirty' || true)
HEADER="bench/snapshot.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $COMMIT$DIRTY  nproc $(nproc)  $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)  loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)
$(java -version 2>&1 | head -1); $(curl --version | head -1 | cut -d' ' -f1-2); $(nbdsh --version 2>&1 | head -1)
image ${IMAGE_MIB} MiB from /dev/urandom, hydrated before the snapshots; dirty shares: $PCTS % (seed $SEED); work dir $WORK ($(df --output=source,fstype "$WORK" | tail -1 | tr -s ' '))"
echo "$HEADER"

# ---------------------------------------------------------------------------------------------- build
build_sluice agent
AGENT_JAR=$REPO/agent/target/sluice-agent.jar

log "writing ${IMAGE_MIB} MiB of /dev/urandom to $WORK/disk.raw"
head -c "$SIZE" /dev/urandom >"$WORK/disk.raw"
sync "$WORK/disk.raw"

# ---------------------------------------------------------------------------------------------- control plane
PORT=$(free_port)
ADMIN=$(rand_hex 24)
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK/data"
SLUICE_DATA_DIR="$WORK/data" SLUICE_BOOTSTRAP_TOKEN="$ADMIN" SLUICE_HTTP_PORT="$PORT" SLUICE_HTTP_HOST=127.0.0.1 \
  java ${BENCH_SERVER_JAVA_OPTS:-} -jar target/quarkus-app/quarkus-run.jar >"$WORK/server.log" 2>&1 &
PIDS+=($!)
CP_PID=$!
log "started the control plane (pid $CP_PID) on $BASE"
wait_http "$BASE/q/health/ready" "$CP_PID" "the control plane"

# put_content IMAGE FILE: curl -T FILE to the image's content; prints curl's time_total, or FAIL
put_content() {
  local out code t
  out=$(curl -sS -o "$WORK/upload.json" -w '%{http_code} %{time_total}' -T "$2" -H 'Expect:' \
        -H "Authorization: Bearer $MEMBER" -H 'Content-Type: application/octet-stream' "$BASE/api/v1/images/$1/content") \
    || { log "curl -T $2 failed"; echo FAIL; return; }
  read -r code t <<<"$out"
  if [[ "$code" == 2* && "$(jq -r '.state // empty' "$WORK/upload.json")" == available ]]; then echo "$t"
  else log "upload of $2 answered $code: $(head -c 2000 "$WORK/upload.json")"; echo FAIL; fi
}
SUFFIX=$(rand_hex 4)
TENANT=$(api POST /api/v1/tenants "$ADMIN" "{\"name\":\"snapbench-$SUFFIX\"}" | jq -r .id)
MEMBER=$(api POST "/api/v1/tenants/$TENANT/tokens" "$ADMIN" '{"name":"bench","role":"tenant-member"}' | jq -r .secret)
IMAGE=$(api POST /api/v1/images "$MEMBER" "{\"name\":\"snapbench-$SUFFIX\",\"sizeBytes\":$SIZE}" | jq -r .id)
BS=$(jq -r .blockSize "$WORK/body")
BLOCKS=$(( (SIZE + BS - 1) / BS ))
log "uploading the image ($IMAGE, $BLOCKS blocks of $BS)"
BASE_UPLOAD_S=$(put_content "$IMAGE" "$WORK/disk.raw")
[[ "$BASE_UPLOAD_S" != FAIL ]] || exit 1
rm -f "$WORK/disk.raw"

# ---------------------------------------------------------------------------------------------- agent, hydrated
MACHINE=$(api POST /api/v1/machines "$MEMBER" "{\"name\":\"snapbench-$SUFFIX\",\"imageId\":\"$IMAGE\"}" | jq -r .id)
SECRET=$(api POST "/api/v1/machines/$MACHINE/credentials" "$MEMBER" '{"name":"bench"}' | jq -r .secret)
SOCK=$WORK/agent.sock
URI="nbd+unix:///?socket=$SOCK"
SLUICE_TOKEN="$SECRET" java -jar "$AGENT_JAR" run --control-plane "$BASE" --machine "$MACHINE" \
  --cache-dir "$WORK/cache" --nbd-unix "$SOCK" --prefetch-rate 0 >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
AGENT_PID=$!
log "agent (pid $AGENT_PID, machine $MACHINE), hydrating with --prefetch-rate 0"
wait_sock "$SOCK" "$AGENT_PID" "the agent"
HYDRATE_T0=$(now)
for _ in $(seq 1 3600); do
  kill -0 "$AGENT_PID" 2>/dev/null || { log "the agent exited during prefetch"; exit 1; }
  grep -q 'prefetch complete' "$WORK/agent.log" && break
  sleep 1
done
grep -q 'prefetch complete' "$WORK/agent.log" || { log "prefetch not complete after an hour"; exit 1; }
log "hydrated in $(secs "$HYDRATE_T0" "$(now)") s"

# dirty N [ROUND]: nbdsh writes fresh random bytes over N whole blocks drawn at random across the disk (another draw
# each round), then flushes
dirty() {
  nbdsh -u "$URI" -c "
import os, random
bs, blocks, n = $BS, $BLOCKS, $1
size = h.get_size()
for i in sorted(random.Random($SEED + n + 1000003 * ${2:-0}).sample(range(blocks), n)):
    h.pwrite(os.urandom(min(bs, size - i * bs)), i * bs)
h.flush()
"
}

# snapshot NAME: request it, wait for its operation; sets SNAP_S (createdAt -> updatedAt), SNAP_CLIENT_S, SNAP_OP
# (the operation JSON), SNAP_T0
snapshot() {
  local op t0 doc
  t0=$(now)
  api POST "/api/v1/machines/$MACHINE/snapshots" "$MEMBER" "{\"name\":\"$1\"}" >/dev/null
  # no jq process while it runs
  if [[ "$(<"$WORK/body")" =~ \"id\":\"([^\"]+)\" ]]; then op=${BASH_REMATCH[1]}
  else log "snapshot $1: no operation id in $(<"$WORK/body")"; SNAP_S=FAIL; SNAP_CLIENT_S=FAIL; SNAP_OP='{}'; return 0; fi
  SNAP_T0=$t0
  # The time measured is the server's (createdAt -> updatedAt), so the client only has to see the end: it looks
  # first after 0.3 s, then every 0.2 s, with one curl and no jq per look. Polling every 0.1 s with curl + jq took
  # CPU from the 2 CPUs the snapshot runs on (a 1 % snapshot takes ~0.1 s), which the curl peer never pays.
  sleep 0.3
  for _ in $(seq 1 3000); do   # 10 minutes
    doc=$(curl -sS "$BASE/api/v1/operations/$op" -H "Authorization: Bearer $MEMBER")
    if [[ "$doc" == *'"done":true'* ]]; then
      SNAP_CLIENT_S=$(secs "$t0" "$(now)")
      SNAP_S=$(secs3 "$(date -d "$(jq -r .createdAt <<<"$doc")" +%s.%N)" "$(date -d "$(jq -r .updatedAt <<<"$doc")" +%s.%N)")
      SNAP_OP=$doc
      return 0
    fi
    sleep 0.2
  done
  log "snapshot $1 ($op) not done after 10 minutes: $doc"; SNAP_S=FAIL; SNAP_CLIENT_S=FAIL; SNAP_OP=$doc
}

# warmup_snapshot NAME: an unmeasured snapshot that must succeed
warmup_snapshot() {
  snapshot "$1"
  [[ "$SNAP_S" != FAIL && -z "$(jq -c '.error // empty' <<<"$SNAP_OP")" ]] || { log "warm-up snapshot failed: $SNAP_OP"; exit 1; }
}
# new_peer NAME BYTES: a fresh random file of BYTES in $WORK/peer.raw (synced) and a new image of that size for it;
# prints the image id
new_peer() {
  head -c "$2" /dev/urandom >"$WORK/peer.raw"
  sync "$WORK/peer.raw"
  api POST /api/v1/images "$MEMBER" "{\"name\":\"$1\",\"sizeBytes\":$2}" | jq -r .id
}

if (( WARMUP_PCT > 0 )); then
  n=$(( (BLOCKS * WARMUP_PCT + 99) / 100 ))
  log "warm-up: dirtying $n blocks ($WARMUP_PCT %) and a snapshot of them (not measured)"
  dirty "$n"
  warmup_snapshot "snapbench-warmup-$SUFFIX"
  WARMUP_NOTE="warm-up snapshot ($WARMUP_PCT %, $n blocks, not measured): $SNAP_S s"
else
  WARMUP_NOTE="no warm-up snapshot"
fi
# Then BENCH_WARMUP_ROUNDS unmeasured rounds of the first dirty share, each a snapshot and a curl upload of as many
# bytes: the large warm-up ran the per-snapshot code (command, cut, commit) once, and the JIT still compiled it during
# the first measured small snapshots (0.05-0.15 CPU-s of compiler threads each on 2 CPUs, BENCH_THREADS=1); both
# sides get the same number of small rounds, so neither is measured while its per-request path is being compiled.
first_pct=${PCTS%% *}
for round in $(seq 1 "$WARMUP_ROUNDS"); do
  n=$(( (BLOCKS * first_pct + 99) / 100 ))
  dirty "$n" "$(( 1000 + round ))"
  warmup_snapshot "snapbench-warmup-$first_pct-r$round-$SUFFIX"
  peer=$(new_peer "snapbench-peer-warmup-r$round-$SUFFIX" "$(( n * BS ))")
  [[ "$(put_content "$peer" "$WORK/peer.raw")" != FAIL ]] || exit 1
  rm -f "$WORK/peer.raw"
done
(( WARMUP_ROUNDS > 0 )) && WARMUP_NOTE+="; then $WARMUP_ROUNDS unmeasured rounds of $first_pct % (a snapshot and a curl upload each)"

# median of the numbers on stdin (FAIL if any is FAIL); range MIN-MAX
median() { sort -g | awk '/FAIL/ {f = 1} {v[NR] = $1} END {if (f || NR == 0) print "FAIL"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
spread() { sort -g | awk '{v[NR] = $1} END {printf "%s-%s", v[1], v[NR]}'; }
ROWS=()
NOTES=()
FAILED=
PER_MIB=()
for pct in $PCTS; do
  n=$(( (BLOCKS * pct + 99) / 100 ))
  bytes=$(( n * BS ))   # the image size is a multiple of the block size here (whole MiB)
  mib=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')
  SNAPS=(); CURLS=()
  for round in $(seq 1 "$ROUNDS"); do
    log "dirtying $n blocks ($pct %, $mib MiB), round $round of $ROUNDS"
    dirty "$n" "$round"
    sleep 2.5   # let the agent's periodic map flush and status write pass, so they do not land inside the timing

    note_load "snapshot $pct % round $round"
    c0=$(cpu_secs "$CP_PID"); a0=$(cpu_secs "$AGENT_PID")
    [[ "${BENCH_THREADS:-}" == 1 ]] && { thread_cpu "$CP_PID" >"$WORK/threads.0"; thread_cpu "$AGENT_PID" >"$WORK/athreads.0"; }
    snapshot "snapbench-$pct-r$round-$SUFFIX"
    snap_cpu="control plane $(cpu_delta "$c0" "$(cpu_secs "$CP_PID")") s, agent $(cpu_delta "$a0" "$(cpu_secs "$AGENT_PID")") s"
    if [[ "${BENCH_THREADS:-}" == 1 ]]; then
      thread_cpu "$CP_PID" >"$WORK/threads.1"; thread_cpu "$AGENT_PID" >"$WORK/athreads.1"
      snap_cpu+=" (control plane threads, user/sys s: $(thread_cpu_delta "$WORK/threads.0" "$WORK/threads.1"); agent: $(thread_cpu_delta "$WORK/athreads.0" "$WORK/athreads.1" 4))"
    fi
    op_id=$(jq -r .id <<<"$SNAP_OP")
    err=$(jq -c '.error // empty' <<<"$SNAP_OP")
    sent=$(jq -r '.progress.bytesSent // "?"' <<<"$SNAP_OP")
    total=$(jq -r '.progress.blocksTotal // "?"' <<<"$SNAP_OP")
    if [[ -n "$err" || "$SNAP_S" == FAIL ]]; then SNAP_S=FAIL; FAILED+=" snapshot-$pct"; log "snapshot $pct %: $SNAP_OP"
    elif [[ "$total" != "$n" ]]; then SNAP_S=FAIL; FAILED+=" cut-$pct"; log "snapshot $pct %: cut of $total blocks, expected $n"; fi
    # where the time went, from the agent's log: request -> cut frozen (command channel + cut) -> acknowledged
    t_cut=$(agent_time "snapshot: cut for $op_id"); t_ack=$(agent_time "snapshot: $op_id acknowledged")
    split="request->cut $( [[ -n "$t_cut" ]] && secs "$SNAP_T0" "$t_cut" || echo '?') s, cut->ack $( [[ -n "$t_cut" && -n "$t_ack" ]] && secs "$t_cut" "$t_ack" || echo '?') s"

    peer=$(new_peer "snapbench-peer-$pct-r$round-$SUFFIX" "$bytes")
    note_load "curl $pct % round $round"
    c0=$(cpu_secs "$CP_PID")
    [[ "${BENCH_THREADS:-}" == 1 ]] && thread_cpu "$CP_PID" >"$WORK/threads.0"
    CURL_S=$(put_content "$peer" "$WORK/peer.raw")
    curl_cpu="control plane $(cpu_delta "$c0" "$(cpu_secs "$CP_PID")") s"
    if [[ "${BENCH_THREADS:-}" == 1 ]]; then
      thread_cpu "$CP_PID" >"$WORK/threads.1"
      curl_cpu+=" (threads, user/sys s: $(thread_cpu_delta "$WORK/threads.0" "$WORK/threads.1"))"
    fi
    rm -f "$WORK/peer.raw"
    [[ "$CURL_S" == FAIL ]] && FAILED+=" curl-$pct"
    SNAPS+=("$SNAP_S"); CURLS+=("$CURL_S")
    NOTES+=("$pct % r$round: snapshot $SNAP_S s, curl $CURL_S s; $op_id $(jq -c '.progress' <<<"$SNAP_OP"); $split; client POST->done seen ${SNAP_CLIENT_S} s; CPU during the snapshot: $snap_cpu; during curl: $curl_cpu")
  done
  SNAP_S=$(printf '%s\n' "${SNAPS[@]}" | median); CURL_S=$(printf '%s\n' "${CURLS[@]}" | median)

  if [[ "$SNAP_S" == FAIL || "$CURL_S" == FAIL ]]; then ratio=-; mark=FAIL
  else
    ratio=$(awk -v a="$SNAP_S" -v b="$CURL_S" 'BEGIN {printf "%.2f", a / b}')
    mark=$(awk -v r="$ratio" -v g="$GOAL" 'BEGIN {print (r <= g ? "PASS" : "MISS")}')
    PER_MIB+=("$pct % $(awk -v s="$SNAP_S" -v m="$mib" 'BEGIN {printf "%.1f", 1000 * s / m}')")
  fi
  ROWS+=("$(printf '%5s %7s %9s %11s %10s %11s %9s %11s %6s %6s  %s' "$pct" "$n" "$mib" "$sent" "$SNAP_S" \
           "$(printf '%s\n' "${SNAPS[@]}" | spread)" "$CURL_S" "$(printf '%s\n' "${CURLS[@]}" | spread)" "$ratio" "<= $GOAL" "$mark")")
done

# ---------------------------------------------------------------------------------------------- the last snapshot = the disk?
VERIFY=skipped
if [[ "${BENCH_VERIFY:-1}" != 0 && -z "$FAILED" ]]; then
  note_load "verify"
  img=$(jq -r '.result.imageId' <<<"$SNAP_OP")
  nbdcopy "$URI" "$WORK/agent.raw"
  code=$(curl -sS -o "$WORK/snap.raw" -w '%{http_code}' "$BASE/api/v1/images/$img/disk" -H "Authorization: Bearer $MEMBER")
  if [[ "$code" == 200 ]] && cmp -s "$WORK/snap.raw" "$WORK/agent.raw"; then VERIFY="ok (image $img)"
  else VERIFY="WRONG (image $img, HTTP $code)"; FAILED+=" verify"; fi
  rm -f "$WORK/snap.raw" "$WORK/agent.raw"
fi

# ---------------------------------------------------------------------------------------------- table
echo
echo "$HEADER"
echo "load1 before each step: ${LOADS[*]}"
echo "base image upload (curl -T ${IMAGE_MIB} MiB): $BASE_UPLOAD_S s; block size $BS, $BLOCKS blocks; $WARMUP_NOTE"
echo "median of $ROUNDS rounds per row (range: min-max); ratio = median snapshot s / median curl s"
printf '%5s %7s %9s %11s %10s %11s %9s %11s %6s %6s  %s\n' dirty% blocks "data MiB" "bytes sent" "snapshot s" "range" "curl s" "range" ratio goal mark
for r in "${ROWS[@]}"; do echo "$r"; done
echo "snapshot ms per dirty MiB (constant if time is proportional to the dirty bytes): $(IFS=';'; echo "${PER_MIB[*]}" | sed 's/;/; /g')"
for n in "${NOTES[@]}"; do echo "$n"; done
echo "last snapshot's image (disk endpoint) = the agent's disk (nbdcopy): $VERIFY"
nerr=$(grep -c ' ERROR ' "$WORK/server.log" || true)
echo "server log: $(wc -l <"$WORK/server.log") lines, $nerr ERROR; agent log: $(grep -ciE 'error|exception|fail' "$WORK/agent.log" || true) lines with error/exception/fail"
TABLE_DONE=1
if [[ -n "$FAILED" ]]; then echo "FAILED:$FAILED"; exit 1; fi
