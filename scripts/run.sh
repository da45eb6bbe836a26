#!/usr/bin/env bash
# The main job on embedded defaults: builds and starts the control plane with an H2 file database and block
# files under ./data (override with SLUICE_DATA_DIR), listening on 127.0.0.1:8080 (SLUICE_HTTP_HOST/PORT).
# No external service is needed. Set SLUICE_BOOTSTRAP_TOKEN to choose the platform-admin token; otherwise one
# is generated on the first start and printed once in the log.
#
# Unless SLUICE_DEMO=0, it then starts a demo agent: on the first run it creates a demo tenant, a 64 MiB image
# (random data and zeros, generated locally), uploads it, registers a machine and a machine credential (kept in
# $SLUICE_DATA_DIR/demo, mode 600); on every run it builds and starts the agent, which serves the machine's disk
# over NBD at $SLUICE_DATA_DIR/demo/nbd.sock. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLUICE_DATA_DIR="${SLUICE_DATA_DIR:-$PWD/data}"
export SLUICE_HTTP_HOST="${SLUICE_HTTP_HOST:-127.0.0.1}"
export SLUICE_HTTP_PORT="${SLUICE_HTTP_PORT:-8080}"
SLUICE_DEMO="${SLUICE_DEMO:-1}"
command -v mvn >/dev/null && command -v java >/dev/null || {
  echo "run.sh: needs maven and a JDK 17: apt-get install -y maven openjdk-17-jdk-headless" >&2; exit 1; }
mkdir -p "$SLUICE_DATA_DIR"
echo "run.sh: building the control plane (embedded profile)…"
mvn -B -q package -DskipTests -Dquarkus.profile=embedded
if [ "$SLUICE_DEMO" = 0 ]; then
  exec java -jar target/quarkus-app/quarkus-run.jar
fi
command -v curl >/dev/null || { echo "run.sh: the demo needs curl (apt-get install -y curl), or set SLUICE_DEMO=0" >&2; exit 1; }
echo "run.sh: building the agent…"
mvn -B -q -f agent/pom.xml package -DskipTests

DEMO="$SLUICE_DATA_DIR/demo"
mkdir -p "$DEMO"
chmod 700 "$DEMO"
API="http://$SLUICE_HTTP_HOST:$SLUICE_HTTP_PORT"
CP_LOG="$DEMO/control-plane.log"
CP_PID=""
AGENT_PID=""
stop() {
  trap - INT TERM EXIT
  # The agent first, and the control plane once it is gone (at most 10 s): a stopping agent still reports its
  # boot's first-touch reads, which a control plane shutting down at the same moment answered with a stack trace.
  if [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  [ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

: > "$CP_LOG"
java -jar target/quarkus-app/quarkus-run.jar > >(tee -a "$CP_LOG") 2>&1 &
CP_PID=$!
for _ in $(seq 1 120); do
  curl -fs "$API/q/health/ready" >/dev/null 2>&1 && break
  kill -0 "$CP_PID" 2>/dev/null || { echo "run.sh: the control plane exited" >&2; exit 1; }
  sleep 0.5
done
curl -fs "$API/q/health/ready" >/dev/null || { echo "run.sh: the control plane did not become ready" >&2; exit 1; }

json_field() { # json_field NAME: the first "NAME":"value" of the JSON on stdin
  grep -o "\"$1\" *: *\"[^\"]*\"" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/'
}
api() { # api TOKEN METHOD PATH [curl args…]: prints the body, fails on HTTP errors
  local token="$1" method="$2" path="$3"
  shift 3
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $token" "$@" "$API$path"
}

if [ ! -s "$DEMO/demo.env" ]; then
  admin="${SLUICE_BOOTSTRAP_TOKEN:-}"
  if [ -z "$admin" ]; then
    admin="$(sed -n 's/.*generated the bootstrap platform-admin token[^:]*: *\(slc_[A-Za-z0-9_-]*\).*/\1/p' "$CP_LOG" | head -n 1)"
  fi
  if [ -z "$admin" ]; then
    echo "run.sh: no demo yet and no platform-admin token to create it: set SLUICE_BOOTSTRAP_TOKEN (or SLUICE_DEMO=0)" >&2
    wait "$CP_PID"
    exit 0
  fi
  echo "run.sh: creating the demo tenant, image, machine and machine credential…"
  tenant="$(api "$admin" POST /api/v1/tenants -H 'Content-Type: application/json' \
      -d "{\"name\":\"demo-$(date +%s)\"}" | json_field id)"
  member="$(api "$admin" POST "/api/v1/tenants/$tenant/tokens" -H 'Content-Type: application/json' \
      -d '{"name":"demo","role":"tenant-member"}' | json_field secret)"
  # 64 MiB: 24 MiB random, 16 MiB zeros, 24 MiB random (zero blocks are not stored, nor sent with data).
  raw="$DEMO/demo.raw"
  head -c $((24 << 20)) /dev/urandom > "$raw"
  truncate -s $((40 << 20)) "$raw"
  head -c $((24 << 20)) /dev/urandom >> "$raw"
  image="$(api "$member" POST /api/v1/images -H 'Content-Type: application/json' \
      -d "{\"name\":\"demo\",\"sizeBytes\":$((64 << 20))}" | json_field id)"
  api "$member" PUT "/api/v1/images/$image/content" -H 'Content-Type: application/octet-stream' -H 'Expect:' -T "$raw" >/dev/null
  machine="$(api "$member" POST /api/v1/machines -H 'Content-Type: application/json' \
      -d "{\"name\":\"demo\",\"imageId\":\"$image\"}" | json_field id)"
  credential="$(api "$member" POST "/api/v1/machines/$machine/credentials" -H 'Content-Type: application/json' \
      -d '{"name":"demo-agent"}' | json_field secret)"
  (umask 077; printf 'TENANT=%s\nIMAGE=%s\nMACHINE=%s\n' "$tenant" "$image" "$machine" > "$DEMO/demo.env"
   printf '%s\n' "$member" > "$DEMO/member.token"; printf '%s\n' "$credential" > "$DEMO/machine.token")
  echo "run.sh: demo image $image ($(sha256sum "$raw" | cut -c1-16)…) uploaded; machine $machine"
fi
# shellcheck disable=SC1091
. "$DEMO/demo.env"
METRICS="${SLUICE_DEMO_METRICS:-127.0.0.1:9464}"
rm -f "$DEMO/nbd.sock"
SLUICE_TOKEN="$(cat "$DEMO/machine.token")" java -jar agent/target/sluice-agent.jar run --control-plane "$API" \
    --machine "$MACHINE" --cache-dir "$DEMO/cache" --nbd-unix "$DEMO/nbd.sock" --metrics-listen "$METRICS" \
    > >(sed -u 's/^/[agent] /') 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 60); do [ -S "$DEMO/nbd.sock" ] && break; sleep 0.5; done
cat <<EOF

run.sh: the demo agent serves machine $MACHINE (image $IMAGE) over NBD. Try:
  nbdinfo nbd+unix:///?socket=$DEMO/nbd.sock
  nbdinfo --map nbd+unix:///?socket=$DEMO/nbd.sock
  nbdinfo --map=sluice:blocks nbd+unix:///?socket=$DEMO/nbd.sock      # bit 0 present, bit 1 dirty
  curl -H "Authorization: Bearer \$(cat $DEMO/member.token)" $API/api/v1/machines/$MACHINE
  curl $METRICS/metrics
  java -jar agent/target/sluice-agent.jar status --cache-dir $DEMO/cache
Ctrl-C stops the agent and the control plane.

EOF
wait "$CP_PID"
