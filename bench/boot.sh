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
#   copy-first   curl of the whole disk endpoint into a local file over the same link, then qemu boots that file
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
# No added delay: this machine's kernel has no sch_netem (nor fq for timestamp pacing), so the round trip is the
# veth's (tens of microseconds); the table prints the guest's demand waits, and each would cost one extra round
# trip on a real link. qemu stays in the host namespace: its disk is a unix socket.
#
# Run from the repository root, as root (ip netns, tc), with java, mvn, curl, jq, qemu-system-x86_64, e2fsck,
# resize2fs, ip, tc:
#   bench/boot.sh                                    # build, 1 and 3 GiB, loopback + 1gbit + 100mbit (~14 min + build)
#   BENCH_SIZES=1024 BENCH_LINKS=loopback bench/boot.sh   # quick subset
#   BENCH_SKIP_BUILD=1 bench/boot.sh                 # reuse target/quarkus-app (embedded) and agent/target/sluice-agent.jar
#
# Environment:
#   BENCH_SIZES       image sizes in MiB (default "1024 3072")
#   BENCH_LINKS       any of loopback 1gbit 100mbit (default all three; any tc rate like 500mbit works)
#   BENCH_FS_MIB      size of the guest's ext4 file system inside the image (default 256)
#   BENCH_GUEST_DIR   a built guest (vmlinuz, initrd.img, rootfs.img); default the cache LinuxGuestBootTest uses,
#                     built with build-guest.sh if missing
#   BENCH_SKIP_BUILD=1, BENCH_KEEP=1 (keep logs), BENCH_TMPDIR (default /tmp, or target/ if /tmp is a tmpfs)
set -euo pipefail

SIZES=${BENCH_SIZES:-1024 3072}
LINKS=${BENCH_LINKS:-loopback 1gbit 100mbit}
FS_MIB=${BENCH_FS_MIB:-256}

cd "$(dirname "$0")/.."
source bench/lib.sh
REPO=$(pwd)
[[ $EUID -eq 0 ]] || { log "run as root (network namespace, tc)"; exit 1; }
for tool in java mvn curl jq qemu-system-x86_64 e2fsck resize2fs ip tc awk sha256sum; do
  command -v "$tool" >/dev/null || { log "$tool is missing"; exit 1; }
done
for s in $SIZES; do
  [[ "$s" =~ ^[1-9][0-9]*$ && $s -gt $FS_MIB ]] || { log "BENCH_SIZES: $s is not a size in MiB above BENCH_FS_MIB ($FS_MIB)"; exit 1; }
done
for l in $LINKS; do
  [[ "$l" == loopback || "$l" =~ ^[0-9]+[kmg]bit$ ]] || { log "BENCH_LINKS: $l is neither loopback nor a rate like 1gbit"; exit 1; }
done

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
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

# ---------------------------------------------------------------------------------------------- header, build
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '+dirty' || true)
echo "bench/boot.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $COMMIT$DIRTY  nproc $(nproc)  $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)  loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(java -version 2>&1 | head -1); $(qemu-system-x86_64 --version | head -1) (TCG); curl $(curl --version | awk 'NR==1 {print $2}')"
echo "sizes (MiB): $SIZES; links: $LINKS (emulated: netns + veth, tc tbf at the rate on both ends, no added delay: no sch_netem in this kernel); ext4 ${FS_MIB} MiB + /dev/urandom filler after it"
build_sluice agent
AGENT_JAR=$REPO/agent/target/sluice-agent.jar

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

SUFFIX=$(rand_hex 4)
TENANT=$(api POST /api/v1/tenants "$ADMIN" "{\"name\":\"bootbench-$SUFFIX\"}" | jq -r .id)
MEMBER=$(api POST "/api/v1/tenants/$TENANT/tokens" "$ADMIN" '{"name":"bench","role":"tenant-member"}' | jq -r .secret)

# link NAME: shape the veth (both directions) for an emulated link; IN is the prefix that runs a command on it
link() {
  if [[ $1 == loopback ]]; then IN=(); return; fi
  # burst: 128 KiB, 1 ms at 1 Gbit/s (tbf splits larger GSO packets); queue: up to 20 ms of data
  tc qdisc replace dev "$VH" root tbf rate "$1" burst 128kb latency 20ms
  ip netns exec "$NS" tc qdisc replace dev "$VN" root tbf rate "$1" burst 128kb latency 20ms
  IN=(ip netns exec "$NS")
}

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
# (agent start to its NBD socket, when qemu starts), FETCHED, REQS, WAITS, PRIORITY
stream() {
  local dir=$1 id secret t0 t1 url
  shift
  mkdir -p "$dir"
  id=$(api POST /api/v1/machines "$MEMBER" "{\"name\":\"$(basename "$dir")-$SUFFIX\",\"imageId\":\"$IMAGE\"}" | jq -r .id)
  secret=$(api POST "/api/v1/machines/$id/credentials" "$MEMBER" '{"name":"agent"}' | jq -r .secret)
  t0=$(now)
  SLUICE_TOKEN="$secret" "${IN[@]}" java "${AGENT_JVM[@]}" -jar "$AGENT_JAR" run --control-plane "$BASE" --machine "$id" \
    --cache-dir "$dir/cache" --nbd-unix "$dir/nbd.sock" --metrics-listen 127.0.0.1:0 "$@" >"$dir/agent.log" 2>&1 &
  local agent=$!
  PIDS+=("$agent")
  for _ in $(seq 1 6000); do [[ -S "$dir/nbd.sock" ]] && break; kill -0 "$agent" || { cat "$dir/agent.log" >&2; return 1; }; sleep 0.005; done
  START_S=$(secs "$t0" "$(now)")
  boot_vm "$dir" "nbd+unix:///?socket=$dir/nbd.sock"
  t1=$(await_ready "$dir")
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
# copy_first DIR: curl the whole disk over the link into a local file, then boot it; sets READY_S, FETCHED, COPY_S
copy_first() {
  local dir=$1 t0 t1 t2
  mkdir -p "$dir"
  t0=$(now)
  "${IN[@]}" curl -fsS -o "$dir/copy.raw" -H "Authorization: Bearer $MEMBER" "$BASE/api/v1/images/$IMAGE/disk"
  t1=$(now)
  boot_vm "$dir" "$dir/copy.raw"
  t2=$(await_ready "$dir")
  end_vm
  READY_S=$(secs "$t0" "$t2"); COPY_S=$(secs "$t0" "$t1")
  FETCHED=$(stat -c %s "$dir/copy.raw")
  rm -f "$dir/copy.raw"
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
    log "$size MiB over $l: first boot (demand only); load $(cut -d' ' -f1 /proc/loadavg)"
    stream "$d-first" --prefetch off
    F_S=$READY_S F_B=$FETCHED
    ROWS+=("$(printf '%-6s %-9s %-11s %8s %9s %7s %6s %6s %9s   (agent up %s s)' "$size" "$l" stream-1st "$READY_S" "$(mib "$FETCHED")" "$(pct "$FETCHED" "$bytes")" "$REQS" "$WAITS" "-" "$START_S")")
    log "$size MiB over $l: second machine (learned order); load $(cut -d' ' -f1 /proc/loadavg)"
    stream "$d-second"
    S_S=$READY_S S_B=$FETCHED
    ROWS+=("$(printf '%-6s %-9s %-11s %8s %9s %7s %6s %6s %9s   (agent up %s s)' "$size" "$l" stream-2nd "$READY_S" "$(mib "$FETCHED")" "$(pct "$FETCHED" "$bytes")" "$REQS" "$WAITS" "${PRIORITY:-?}" "$START_S")")
    log "$size MiB over $l: copy-first; load $(cut -d' ' -f1 /proc/loadavg)"
    copy_first "$d-copy"
    C_S=$READY_S
    ROWS+=("$(printf '%-6s %-9s %-11s %8s %9s %7s %6s %6s %9s   (download %s s)' "$size" "$l" copy-first "$READY_S" "$(mib "$FETCHED")" "$(pct "$FETCHED" "$bytes")" 1 - - "$COPY_S")")
    RATIOS+=("$(printf '%-6s %-9s copy/1st %6s  copy/2nd %6s  2nd/1st %5s  fetched before ready 1st %s 2nd %s' "$size" "$l" \
      "$(ratio "$C_S" "$F_S")" "$(ratio "$C_S" "$S_S")" "$(ratio "$S_S" "$F_S")" "$(pct "$F_B" "$bytes")" "$(pct "$S_B" "$bytes")")")
    GOALS+=("$size $l $(ratio "$C_S" "$F_S") $(ratio "$C_S" "$S_S") $(ratio "$S_S" "$F_S") $(ratio "$F_B" "$bytes") $(ratio "$S_B" "$bytes")")
  done
done

echo
printf '%-6s %-9s %-11s %8s %9s %7s %6s %6s %9s\n' MiB link mode ready_s fetch_MiB fetch% reqs waits priority
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${RATIOS[@]}"
echo
echo "goals: fetched before ready <= 10% of the image; copy-first / streaming >= 3 at 1gbit; 2nd machine faster than 1st"
for g in "${GOALS[@]}"; do
  read -r size l c1 c2 r21 f1 f2 <<<"$g"
  line="$size $l: fetched<=10% 1st $(mark "$f1" 0.10 le) 2nd $(mark "$f2" 0.10 le); 2nd faster $(mark "$r21" 0.9999 le)"
  [[ $l == 1gbit ]] && line+="; >=3x copy-first: 1st $(mark "$c1" 3 ge) 2nd $(mark "$c2" 3 ge)"
  echo "$line"
done
echo "server log: $(wc -l <"$WORK/server.log") lines, $(grep -c ' ERROR ' "$WORK/server.log" || true) ERROR; loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
