#!/usr/bin/env bash
# bench/boot.sh: time-to-ready and bytes fetched for a real Linux guest (issue 6, acceptance 6).
#
# The guest is the one LinuxGuestBootTest boots (src/test/resources/guest/build-guest.sh: Debian 12 kernel, busybox
# initrd, debootstrap minbase root), run by qemu (TCG) until it prints "SLUICE-GUEST-READY <nonce>" on its console.
# Per image size (1 GiB and 3 GiB) and per link, three ways to get it running:
#
#   stream-1st   a fresh agent (--prefetch off: a cold first boot, demand fetch only), qemu's root disk on its
#                NBD export; its first-touch misses are reported and become the image's learned boot profile
#   stream-2nd   a second machine's fresh agent with the defaults (prefetch on, priority = the learned profile
#                handed over at start)
#   copy-first   curl of the whole disk endpoint into a local file over the same link, synced to disk (the sync is
#                part of the download's time, printed apart), then qemu boots that file
#
# Time-to-ready: from just before the agent (or curl) starts to the ready marker on the console. Bytes fetched:
# the agent's sluice_agent_fetched_bytes_total when the marker appears (prefetch included for stream-2nd).
#
# Image: the cached 1 GiB guest's ext4 file system is shrunk (e2fsck -f, resize2fs) to BENCH_FS_MIB and the rest
# of the image, up to the size, is random bytes from /dev/urandom after the end of the file system
# (incompressible filler that the guest never reads, but that copy-first and prefetch have to move).
#
# Links: "loopback" (agent, curl and control plane in the host's network namespace; the control plane listens on
# the host end of the veth, which the host reaches over lo) and emulated links: the agent and curl run in a network
# namespace joined by a veth pair (10.77.0.1 host / 10.77.0.2 namespace) with `tc qdisc tbf rate R` on both ends.
# A link named RATE+Dms (1gbit+1ms) also has a one-way delay of D ms in each direction: this machine's kernel has
# no sch_netem (nor fq, etf, nft_queue), so bench/DelayProxy.java, a userspace TCP proxy in the namespace, holds
# every chunk D ms in each direction between the agent (or curl) and the veth; the header prints the round trip
# measured through it (a one-byte ping to an echo server on the host end), and each link's notes its CPU time.
# qemu stays in the host namespace: its disk is a unix socket.
#
# Runs: each link is measured BENCH_RUNS times (default 3), in rounds of stream-1st, stream-2nd, copy-first, each
# streaming boot with a fresh machine and agent; the rows print the median and the range (min-max). copy-first
# downloads once (the first round; its time is the download's) and boots its local copy in every round (the guest's
# file system is restored from the download before each boot): its time-to-ready is download + median boot.
#
# Run from the repository root, as root (ip netns, tc), with java, mvn, curl, jq, qemu-system-x86_64, e2fsck,
# resize2fs, ip, tc:
#   bench/boot.sh                                    # build, 1 and 3 GiB, loopback 1gbit 1gbit+1ms 100mbit+1ms, 3 runs (~17 min + build)
#   BENCH_SIZES=1024 BENCH_LINKS=loopback bench/boot.sh   # quick subset
#   BENCH_SKIP_BUILD=1 bench/boot.sh                 # reuse target/quarkus-app (embedded) and agent/target/sluice-agent.jar
#
# Environment:
#   BENCH_SIZES       image sizes in MiB (default "1024 3072")
#   BENCH_LINKS       loopback, a tc rate (1gbit, 100mbit, 500mbit) or a rate with a delay (1gbit+1ms), default
#                     "loopback 1gbit 1gbit+1ms 100mbit+1ms"
#   BENCH_RUNS        rounds per link (default 3; medians and ranges are printed)
#   BENCH_COPY=0      skip copy-first (development loops on the streaming modes; no ratios or goals then)
#   BENCH_FS_MIB      size of the guest's ext4 file system inside the image (default 256)
#   BENCH_GUEST_DIR   a built guest (vmlinuz, initrd.img, rootfs.img); default the cache LinuxGuestBootTest uses,
#                     built with build-guest.sh if missing
#   BENCH_AGENT_JAR   the agent to run (default agent/target/sluice-agent.jar; for A/B runs of two builds)
#   BENCH_SKIP_BUILD=1, BENCH_KEEP=1 (keep logs), BENCH_TMPDIR (default /tmp, or target/ if /tmp is a tmpfs)
set -euo pipefail

SIZES=${BENCH_SIZES:-1024 3072}
LINKS=${BENCH_LINKS:-loopback 1gbit 1gbit+1ms 100mbit+1ms}
RUNS=${BENCH_RUNS:-3}
FS_MIB=${BENCH_FS_MIB:-256}

cd "$(dirname "$0")/.."
source bench/lib.sh
REPO=$(pwd)
[[ $EUID -eq 0 ]] || { log "run as root (network namespace, tc)"; exit 1; }
for tool in java javac mvn curl jq qemu-system-x86_64 e2fsck resize2fs ip tc awk sha256sum; do
  command -v "$tool" >/dev/null || { log "$tool is missing"; exit 1; }
done
for s in $SIZES; do
  [[ "$s" =~ ^[1-9][0-9]*$ && $s -gt $FS_MIB ]] || { log "BENCH_SIZES: $s is not a size in MiB above BENCH_FS_MIB ($FS_MIB)"; exit 1; }
done
for l in $LINKS; do
  [[ "$l" == loopback || "$l" =~ ^[0-9]+[kmg]bit(\+[0-9]+(\.[0-9]+)?ms)?$ ]] || { log "BENCH_LINKS: $l is neither loopback nor a rate like 1gbit or 1gbit+1ms"; exit 1; }
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { log "BENCH_RUNS: $RUNS is not a count"; exit 1; }

TMPBASE=${BENCH_TMPDIR:-/tmp}
if [[ -z "${BENCH_TMPDIR:-}" ]] && [[ "$(stat -f -c %T /tmp)" == tmpfs || "$(stat -f -c %T /tmp)" == ramfs ]]; then
  mkdir -p "$REPO/target"; TMPBASE=$REPO/target
fi
WORK=$(mktemp -d "$TMPBASE/sluice-bootbench.XXXXXX")
NS=sluiceboot$$
VH=sbh$$            # host end of the veth pair
VN=sbn$$            # namespace end
PIDS=()
cleanup() {
  local rc=$? i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  ip link del "$VH" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then
    for f in "$WORK"/server.log "$WORK"/*/agent.log "$WORK"/*/serial.log; do
      [[ -f "$f" ]] && { echo "--- tail $f" >&2; tail -15 "$f" >&2; }
    done
  fi
  if [[ "${BENCH_KEEP:-}" == 1 ]]; then
    rm -rf "$WORK"/*.raw "$WORK"/data "$WORK"/*/cache "$WORK"/*/copy.raw
    log "kept $WORK (images and caches removed)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# ---------------------------------------------------------------------------------------------- header, build
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '+dirty' || true)
echo "bench/boot.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $COMMIT$DIRTY  nproc $(nproc)  $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)  loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(java -version 2>&1 | head -1); $(qemu-system-x86_64 --version | head -1) (TCG); curl $(curl --version | awk 'NR==1 {print $2}')"
echo "sizes (MiB): $SIZES; links: $LINKS (emulated: netns + veth, tc tbf at the rate on both ends; +Dms: bench/DelayProxy.java holds each chunk D ms each way, no sch_netem in this kernel); ext4 ${FS_MIB} MiB + /dev/urandom filler after it; $RUNS runs per link"
build_sluice agent
AGENT_JAR=${BENCH_AGENT_JAR:-$REPO/agent/target/sluice-agent.jar}

# ---------------------------------------------------------------------------------------------- the guest
SCRIPT=src/test/resources/guest/build-guest.sh
GUEST=${BENCH_GUEST_DIR:-${SLUICE_GUEST_CACHE:-$HOME/.cache/sluice-guest}/$(sha256sum "$SCRIPT" | cut -c1-16)-1024}
if [[ ! -f "$GUEST/rootfs.img" || ! -f "$GUEST/vmlinux" ]]; then
  log "building the guest into $GUEST (debootstrap, a few minutes)"
  bash "$SCRIPT" "$GUEST" 1024 >&2
fi
# make_image MIB FILE: the guest's file system shrunk to FS_MIB, then random bytes up to MIB
make_image() {
  cp --sparse=always "$GUEST/rootfs.img" "$2"
  e2fsck -fy "$2" >"$WORK/e2fsck.log" 2>&1 || [[ $? -le 1 ]] || { cat "$WORK/e2fsck.log" >&2; return 1; }
  resize2fs "$2" "${FS_MIB}M" >"$WORK/resize2fs.log" 2>&1 || { cat "$WORK/resize2fs.log" >&2; return 1; }
  truncate -s "${FS_MIB}M" "$2"
  head -c $(( ($1 - FS_MIB) * 1048576 )) /dev/urandom >>"$2"
}

# ---------------------------------------------------------------------------------------------- network, control plane
HOST_IP=127.0.0.1
if [[ " $LINKS " != " loopback " ]]; then
  ip netns add "$NS"
  ip link add "$VH" type veth peer name "$VN"
  ip link set "$VN" netns "$NS"
  ip addr add 10.77.0.1/24 dev "$VH"; ip link set "$VH" up
  ip -n "$NS" addr add 10.77.0.2/24 dev "$VN"; ip -n "$NS" link set "$VN" up; ip -n "$NS" link set lo up
  HOST_IP=10.77.0.1
fi

# start_proxy TARGET_HOST:PORT DELAY (e.g. 1ms): bench/DelayProxy.java in the namespace, on 127.0.0.1, forwarding to
# TARGET with DELAY each way; sets PROXY_PID and PROXY_PORT. stop_proxy ends it.
PROXY_PID=
start_proxy() {
  local us log=$WORK/proxy.log
  us=$(awk -v d="${2%ms}" 'BEGIN {printf "%d", d * 1000}')
  PROXY_PORT=$(free_port)
  ip netns exec "$NS" java -Xmx64m -XX:+UseSerialGC -cp "$WORK/proxy" DelayProxy proxy "127.0.0.1:$PROXY_PORT" "$1" "$us" >"$log" 2>&1 &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  for _ in $(seq 1 200); do grep -q 'delay proxy on' "$log" && return 0; kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.05; done
  cat "$log" >&2; log "the delay proxy did not start"; return 1
}
stop_proxy() { [[ -z "$PROXY_PID" ]] || stop_pid "$PROXY_PID"; PROXY_PID=; }
# shape RATE: tbf at RATE on both ends of the veth
shape() {
  # burst: 128 KiB, 1 ms at 1 Gbit/s (tbf splits larger GSO packets); queue: up to 20 ms of data
  tc qdisc replace dev "$VH" root tbf rate "$1" burst 128kb latency 20ms
  ip netns exec "$NS" tc qdisc replace dev "$VN" root tbf rate "$1" burst 128kb latency 20ms
}
# The round trip of every delayed link, through the proxy and without it (one-byte pings to an echo server on the
# host end of the veth, after 20 unmeasured ones), printed in the header.
if [[ "$LINKS" == *ms* ]]; then
  mkdir -p "$WORK/proxy"
  javac -d "$WORK/proxy" bench/DelayProxy.java
  EPORT=$(free_port)
  java -cp "$WORK/proxy" DelayProxy echo "$HOST_IP:$EPORT" >"$WORK/echo.log" 2>&1 &
  ECHO_PID=$!
  PIDS+=("$ECHO_PID")
  for _ in $(seq 1 200); do grep -q 'echo on' "$WORK/echo.log" && break; sleep 0.05; done
  for l in $LINKS; do
    [[ $l == *+*ms ]] || continue
    shape "${l%%+*}"
    start_proxy "$HOST_IP:$EPORT" "${l#*+}"
    via=$(ip netns exec "$NS" java -cp "$WORK/proxy" DelayProxy ping "127.0.0.1:$PROXY_PORT" 200)
    direct=$(ip netns exec "$NS" java -cp "$WORK/proxy" DelayProxy ping "$HOST_IP:$EPORT" 200)
    stop_proxy
    read -r _ vm vmin vmax <<<"$via"; read -r _ dm dmin dmax <<<"$direct"
    echo "link $l: round trip (1-byte ping, median of 200, min-max) $vm ms ($vmin-$vmax) through the delay proxy; $dm ms ($dmin-$dmax) without it"
  done
  stop_pid "$ECHO_PID"
fi
PORT=$(free_port)
ADMIN=$(rand_hex 24)
BASE=http://$HOST_IP:$PORT
mkdir -p "$WORK/data"
SLUICE_DATA_DIR="$WORK/data" SLUICE_BOOTSTRAP_TOKEN="$ADMIN" SLUICE_HTTP_PORT="$PORT" SLUICE_HTTP_HOST=$HOST_IP \
  java -jar target/quarkus-app/quarkus-run.jar >"$WORK/server.log" 2>&1 &
CP_PID=$!
PIDS+=("$CP_PID")
log "control plane (pid $CP_PID) on $BASE"
for _ in $(seq 1 120); do curl -fsS -o /dev/null "$BASE/q/health/ready" 2>/dev/null && break; kill -0 "$CP_PID" || exit 1; sleep 0.5; done

# link NAME: shape the veth (both directions) for an emulated link and, for RATE+Dms, start the delay proxy to the
# control plane; sets IN (the prefix that runs a command on the link) and LINK_BASE (the control plane seen from it)
link() {
  stop_proxy
  LINK_BASE=$BASE
  if [[ $1 == loopback ]]; then IN=(); return; fi
  shape "${1%%+*}"
  IN=(ip netns exec "$NS")
  if [[ $1 == *+*ms ]]; then
    start_proxy "$HOST_IP:$PORT" "${1#*+}"
    LINK_BASE=http://127.0.0.1:$PROXY_PORT
  fi
}

SUFFIX=$(rand_hex 4)
TENANT=$(api POST /api/v1/tenants "$ADMIN" "{\"name\":\"bootbench-$SUFFIX\"}" | jq -r .id)
MEMBER=$(api POST "/api/v1/tenants/$TENANT/tokens" "$ADMIN" '{"name":"bench","role":"tenant-member"}' | jq -r .secret)

# boot_vm DIR DISK: qemu (TCG) as LinuxGuest boots it (the same arguments: the uncompressed kernel's PVH entry, qboot,
# no default devices); every mode boots this way; sets VM_PID and NONCE
BIOS=()
[[ -f /usr/share/qemu/qboot.rom ]] && BIOS=(-bios /usr/share/qemu/qboot.rom)
boot_vm() {
  NONCE=$(rand_hex 6)
  : >"$1/serial.log"
  qemu-system-x86_64 -machine accel=tcg -m 512 -nodefaults -nographic -monitor none -no-reboot -serial "file:$1/serial.log" \
    "${BIOS[@]}" -kernel "$GUEST/vmlinux" -initrd "$GUEST/initrd.img" \
    -append "console=ttyS0 root=/dev/vda rw quiet mitigations=off cryptomgr.notests panic=-1 sluice.nonce=$NONCE" \
    -drive "file=$2,format=raw,if=virtio" >"$1/qemu.log" 2>&1 &
  VM_PID=$!
  PIDS+=("$VM_PID")
}
# await_ready DIR: until the ready marker (prints the epoch second) or qemu's end / 300 s (fails)
await_ready() {
  for _ in $(seq 1 6000); do
    if grep -q "SLUICE-GUEST-READY $NONCE" "$1/serial.log"; then now; return 0; fi
    kill -0 "$VM_PID" 2>/dev/null || break
    sleep 0.05
  done
  log "no ready marker in $1/serial.log"; tail -20 "$1/serial.log" >&2; return 1
}
end_vm() {   # the guest powers itself off after the marker
  for _ in $(seq 1 200); do kill -0 "$VM_PID" 2>/dev/null || return 0; sleep 0.1; done
  stop_pid "$VM_PID"
}
metric() { awk -v m="$1" '$1 == m {print $2}' "$2"; }

# stream DIR [agent options]: a fresh machine (named after DIR) and agent on the link, a boot; sets READY_S, START_S
# (agent start to its NBD socket, when qemu starts), QEMU_S (qemu start to ready), FETCHED, REQS, WAITS, PRIORITY
stream() {
  local dir=$1 id secret t0 tq t1 url
  shift
  mkdir -p "$dir"
  id=$(api POST /api/v1/machines "$MEMBER" "{\"name\":\"$(basename "$dir" | tr -c 'a-z0-9\n' -)-$SUFFIX\",\"imageId\":\"$IMAGE\"}" | jq -r .id)
  secret=$(api POST "/api/v1/machines/$id/credentials" "$MEMBER" '{"name":"agent"}' | jq -r .secret)
  t0=$(now)
  SLUICE_TOKEN="$secret" "${IN[@]}" java "${AGENT_JVM[@]}" -jar "$AGENT_JAR" run --control-plane "$LINK_BASE" --machine "$id" \
    --cache-dir "$dir/cache" --nbd-unix "$dir/nbd.sock" --metrics-listen 127.0.0.1:0 "$@" >"$dir/agent.log" 2>&1 &
  local agent=$!
  PIDS+=("$agent")
  for _ in $(seq 1 6000); do [[ -S "$dir/nbd.sock" ]] && break; kill -0 "$agent" || { cat "$dir/agent.log" >&2; return 1; }; sleep 0.005; done
  tq=$(now)
  START_S=$(secs "$t0" "$tq")
  boot_vm "$dir" "nbd+unix:///?socket=$dir/nbd.sock"
  t1=$(await_ready "$dir")
  QEMU_S=$(secs "$tq" "$t1")
  url=$(grep -o 'metrics at http://[^ ]*' "$dir/agent.log" | cut -d' ' -f3)
  "${IN[@]}" curl -fsS "$url" >"$dir/metrics.txt"
  READY_S=$(secs "$t0" "$t1")
  FETCHED=$(metric sluice_agent_fetched_bytes_total "$dir/metrics.txt")
  REQS=$(metric sluice_agent_fetch_requests_total "$dir/metrics.txt")
  WAITS=$(metric sluice_agent_demand_misses_total "$dir/metrics.txt")
  PRIORITY=$(grep -o 'prefetch priority: [0-9]*' "$dir/agent.log" | awk '{print $3}')
  end_vm
  stop_pid "$agent"     # SIGTERM: the agent sends the rest of its first-touch misses before it exits
  rm -rf "$dir/cache"
}
# download DIR: curl the whole disk over the link into DIR/copy.raw (copy-first's download); sets COPY_S, FETCHED,
# and keeps the guest's file system as downloaded (DIR/fs.raw) for copy_boot to restore
download() {
  local dir=$1 t0
  mkdir -p "$dir"
  t0=$(now)
  "${IN[@]}" curl -fsS -o "$dir/copy.raw" -H "Authorization: Bearer $MEMBER" "$LINK_BASE/api/v1/images/$IMAGE/disk"
  DL_S=$(secs "$t0" "$(now)")
  # On the local disk before it boots, as a provisioner writes it (Ironic's agent syncs the written image); the
  # streaming agent's fetched blocks are durable too. Without it the first boot paid for the writeback instead.
  sync "$dir/copy.raw"
  COPY_S=$(secs "$t0" "$(now)")
  SYNC_S=$(secs "$DL_S" "$COPY_S")
  FETCHED=$(stat -c %s "$dir/copy.raw")
  head -c "$(( FS_MIB * 1048576 ))" "$dir/copy.raw" >"$dir/fs.raw"
}
# copy_boot DIR ROUND: boot the downloaded copy (the first round right after the download; later rounds first put the
# file system back as downloaded, written through to disk, since each boot writes to it); sets BOOT_S (qemu start
# to ready)
copy_boot() {
  local dir=$1 t1 t2
  [[ $2 == 1 ]] || dd if="$dir/fs.raw" of="$dir/copy.raw" bs=4M conv=notrunc,fsync status=none
  t1=$(now)
  boot_vm "$dir" "$dir/copy.raw"
  t2=$(await_ready "$dir")
  end_vm
  BOOT_S=$(secs "$t1" "$t2")
}

# upload MIB BYTES: a new image with $WORK/image.raw as its content; sets IMAGE. An upload that stalls (the server
# stopped reading the body under load, seen 2026-11-25: < 1 MiB/s for 20 s) is abandoned and retried on a new image.
upload() {
  local try up
  for try in 1 2 3; do
    IMAGE=$(api POST /api/v1/images "$MEMBER" "{\"name\":\"boot-$1-$SUFFIX-$try\",\"sizeBytes\":$2}" | jq -r .id)
    up=$(curl -sS -o "$WORK/upload.json" -w '%{http_code}' --speed-limit 1048576 --speed-time 20 -T "$WORK/image.raw" \
         -H 'Expect:' -H "Authorization: Bearer $MEMBER" -H 'Content-Type: application/octet-stream' \
         "$BASE/api/v1/images/$IMAGE/content") || true
    if [[ "$up" == 2* && "$(jq -r '.state // empty' "$WORK/upload.json" 2>/dev/null)" == available ]]; then return 0; fi
    log "upload $try of $IMAGE failed or stalled (HTTP $up); retrying on a new image"
  done
  log "upload failed 3 times"; return 1
}

ROWS=()
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
pct() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.1f%%", 100 * b / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mark() { awk -v v="$1" -v g="$2" -v k="$3" 'BEGIN {print ((k == "ge" ? v >= g : v <= g) ? "PASS" : "MISS")}'; }

# train_cds: the agent's class-data sharing archive (AppCDS), as a host that starts agents often would keep one: a
# throwaway machine's agent starts (JVM, machine lookup, NBD export, hand-off, metrics) and stops, and the JVM dumps
# the classes it loaded; every agent of the run then maps them instead of loading ~1,300 classes from the jar
# (measured 2026-11-26: NBD socket ~0.27 s sooner). BENCH_AGENT_CDS=0: plain `java -jar`.
AGENT_JVM=()
train_cds() {
  local dir=$WORK/cds id secret pid
  [[ "${BENCH_AGENT_CDS:-1}" == 1 ]] || return 0
  mkdir -p "$dir"
  id=$(api POST /api/v1/machines "$MEMBER" "{\"name\":\"cds-$SUFFIX\",\"imageId\":\"$IMAGE\"}" | jq -r .id)
  secret=$(api POST "/api/v1/machines/$id/credentials" "$MEMBER" '{"name":"agent"}' | jq -r .secret)
  SLUICE_TOKEN="$secret" java -XX:ArchiveClassesAtExit="$WORK/agent.jsa" -jar "$AGENT_JAR" run --control-plane "$BASE" \
    --machine "$id" --cache-dir "$dir/cache" --nbd-unix "$dir/nbd.sock" --metrics-listen 127.0.0.1:0 --prefetch off \
    --boot-trace-window 0 >"$dir/agent.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 300); do grep -q 'metrics at' "$dir/agent.log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$pid"
  if [[ -f "$WORK/agent.jsa" ]]; then
    AGENT_JVM=(-XX:SharedArchiveFile="$WORK/agent.jsa")
    log "agent CDS archive: $(du -h "$WORK/agent.jsa" | cut -f1)"
  else
    log "no agent CDS archive (see $dir/agent.log); agents start without one"
  fi
}
# warm_server MIB: 300 single-block requests for the image's random filler (blocks no boot reads), so the first
# measured boot does not meet a control plane whose block path the JIT has not compiled yet (a production control
# plane serves many machines); every mode then runs against the same warm server.
warm_server() {
  local first=$(( FS_MIB * 16 )) last=$(( $1 * 16 - 1 )) urls=() i
  for i in $(seq 1 300); do urls+=("$BASE/api/v1/images/$IMAGE/blocks?start=$(( first + (RANDOM * 32768 + RANDOM) % (last - first + 1) ))&count=1" -o /dev/null); done
  curl -fsS -H "Authorization: Bearer $MEMBER" "${urls[@]}" || log "server warm-up failed"
}

med() { stats "$@" | cut -d' ' -f1; }
range() { stats "$@" | awk '{printf "%.1f-%.1f", $2, $3}'; }
# row MODE PRIORITY: the table row of the streaming mode whose per-run values are in the arrays R_READY, R_FETCH, ...
row() {
  printf '%-6s %-11s %-11s %8.2f %9s %9s %7s %6s %6s %9s   (agent up %s s, qemu %s s)' "$size" "$l" "$1" "$(med "${R_READY[@]}")" \
    "$(range "${R_READY[@]}")" "$(mib "$(med "${R_FETCH[@]}")")" "$(pct "$(med "${R_FETCH[@]}")" "$bytes")" "$(med "${R_REQS[@]}" | cut -d. -f1)" \
    "$(med "${R_WAITS[@]}" | cut -d. -f1)" "$2" "$(med "${R_UP[@]}" | awk '{printf "%.2f", $1}')" "$(med "${R_QEMU[@]}" | awk '{printf "%.2f", $1}')"
}
ROWS=() RATIOS=() GOALS=() NOTES=() RUNLOG=()
for size in $SIZES; do
  bytes=$((size * 1048576))
  log "image ${size} MiB: ext4 ${FS_MIB} MiB + random filler"
  make_image "$size" "$WORK/image.raw"
  upload "$size" "$bytes"
  rm -f "$WORK/image.raw"
  [[ -n "${AGENT_JVM[*]}" || "${BENCH_AGENT_CDS:-1}" != 1 ]] || train_cds
  warm_server "$size"
  for l in $LINKS; do
    link "$l"
    d=$WORK/$size-$l
    proxy_cpu0=$( [[ -n "$PROXY_PID" ]] && cpu_secs "$PROXY_PID" || echo 0)
    F_READY=() F_FETCH=() F_REQS=() F_WAITS=() F_UP=() F_QEMU=()
    S_READY=() S_FETCH=() S_REQS=() S_WAITS=() S_UP=() S_QEMU=() S_PRIO=()
    C_BOOT=()
    for run in $(seq 1 "$RUNS"); do
      log "$size MiB over $l, round $run/$RUNS: first boot (demand only); load $(cut -d' ' -f1 /proc/loadavg)"
      stream "$d-first-$run" --prefetch off
      F_READY+=("$READY_S") F_FETCH+=("$FETCHED") F_REQS+=("$REQS") F_WAITS+=("$WAITS") F_UP+=("$START_S") F_QEMU+=("$QEMU_S")
      log "$size MiB over $l, round $run/$RUNS: second machine (learned order); load $(cut -d' ' -f1 /proc/loadavg)"
      stream "$d-second-$run"
      S_READY+=("$READY_S") S_FETCH+=("$FETCHED") S_REQS+=("$REQS") S_WAITS+=("$WAITS") S_UP+=("$START_S") S_QEMU+=("$QEMU_S") S_PRIO+=("${PRIORITY:-?}")
      if [[ "${BENCH_COPY:-1}" == 0 ]]; then
        RUNLOG+=("$size $l round $run: 1st ${F_READY[-1]} s, 2nd ${S_READY[-1]} s; load $(cut -d' ' -f1 /proc/loadavg)")
        continue
      fi
      log "$size MiB over $l, round $run/$RUNS: copy-first; load $(cut -d' ' -f1 /proc/loadavg)"
      if [[ $run == 1 ]]; then
        download "$d-copy"
        if [[ -n "$PROXY_PID" ]]; then NOTES+=("$size $l: delay proxy CPU during copy-first's download: $(cpu_delta "$proxy_cpu0" "$(cpu_secs "$PROXY_PID")") s of ${COPY_S} s"); fi
        C_FETCH=$FETCHED
      fi
      copy_boot "$d-copy" "$run"
      C_BOOT+=("$BOOT_S")
      RUNLOG+=("$size $l round $run: 1st ${F_READY[-1]} s, 2nd ${S_READY[-1]} s, copy-first boot ${BOOT_S} s; load $(cut -d' ' -f1 /proc/loadavg)")
    done
    rm -f "$d-copy/copy.raw" "$d-copy/fs.raw"
    if [[ -n "$PROXY_PID" ]]; then
      NOTES+=("$size $l: delay proxy CPU over the link's $RUNS rounds: $(cpu_delta "$proxy_cpu0" "$(cpu_secs "$PROXY_PID")") s in all")
    fi
    R_READY=("${F_READY[@]}") R_FETCH=("${F_FETCH[@]}") R_REQS=("${F_REQS[@]}") R_WAITS=("${F_WAITS[@]}") R_UP=("${F_UP[@]}") R_QEMU=("${F_QEMU[@]}")
    ROWS+=("$(row stream-1st -)")
    R_READY=("${S_READY[@]}") R_FETCH=("${S_FETCH[@]}") R_REQS=("${S_REQS[@]}") R_WAITS=("${S_WAITS[@]}") R_UP=("${S_UP[@]}") R_QEMU=("${S_QEMU[@]}")
    ROWS+=("$(row stream-2nd "${S_PRIO[-1]}")")
    [[ "${BENCH_COPY:-1}" != 0 ]] || continue
    F_S=$(med "${F_READY[@]}") S_S=$(med "${S_READY[@]}") F_B=$(med "${F_FETCH[@]}") S_B=$(med "${S_FETCH[@]}")
    read -r cb cmin cmax <<<"$(stats "${C_BOOT[@]}")"
    C_S=$(awk -v a="$COPY_S" -v b="$cb" 'BEGIN {printf "%.2f", a + b}')
    ROWS+=("$(printf '%-6s %-11s %-11s %8.2f %9s %9s %7s %6s %6s %9s   (download %s s incl. sync %s s, qemu %s s)' "$size" "$l" copy-first "$C_S" \
      "$(awk -v a="$COPY_S" -v x="$cmin" -v y="$cmax" 'BEGIN {printf "%.1f-%.1f", a + x, a + y}')" "$(mib "$C_FETCH")" "$(pct "$C_FETCH" "$bytes")" 1 - - "$COPY_S" "$SYNC_S" "$cb")")
    RATIOS+=("$(printf '%-6s %-11s copy/1st %6s  copy/2nd %6s  2nd/1st %5s  fetched before ready 1st %s 2nd %s' "$size" "$l" \
      "$(ratio "$C_S" "$F_S")" "$(ratio "$C_S" "$S_S")" "$(ratio "$S_S" "$F_S")" "$(pct "$F_B" "$bytes")" "$(pct "$S_B" "$bytes")")")
    GOALS+=("$size $l $(ratio "$C_S" "$F_S") $(ratio "$C_S" "$S_S") $(ratio "$S_S" "$F_S") $(ratio "$F_B" "$bytes") $(ratio "$S_B" "$bytes")")
  done
  stop_proxy
done

echo
echo "medians of $RUNS runs (range: min-max of ready_s); copy-first = its one download + the median of its $RUNS boots"
printf '%-6s %-11s %-11s %8s %9s %9s %7s %6s %6s %9s\n' MiB link mode ready_s range fetch_MiB fetch% reqs waits priority
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${RATIOS[@]}"
echo
echo "goals (on the medians): fetched before ready <= 10% of the image; copy-first / streaming >= 3 at 1gbit (with or without delay); 2nd machine faster than 1st"
for g in "${GOALS[@]}"; do
  read -r size l c1 c2 r21 f1 f2 <<<"$g"
  line="$size $l: fetched<=10% 1st $(mark "$f1" 0.10 le) 2nd $(mark "$f2" 0.10 le); 2nd faster $(mark "$r21" 0.9999 le)"
  [[ $l == 1gbit || $l == 1gbit+* ]] && line+="; >=3x copy-first: 1st $(mark "$c1" 3 ge) 2nd $(mark "$c2" 3 ge)"
  echo "$line"
done
echo
printf '%s\n' "${NOTES[@]}" "${RUNLOG[@]}"
echo "server log: $(wc -l <"$WORK/server.log") lines, $(grep -c ' ERROR ' "$WORK/server.log" || true) ERROR; loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
