#!/usr/bin/env bash
# The main job on embedded defaults: builds and starts the control plane with an H2 file database and block
# files under ./data (override with SLUICE_DATA_DIR), listening on 127.0.0.1:8080 (SLUICE_HTTP_HOST/PORT).
# No external service is needed. Set SLUICE_BOOTSTRAP_TOKEN to choose the platform-admin token; otherwise one
# is generated on the first start and printed once in the log.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLUICE_DATA_DIR="${SLUICE_DATA_DIR:-$PWD/data}"
export SLUICE_HTTP_HOST="${SLUICE_HTTP_HOST:-127.0.0.1}"
export SLUICE_HTTP_PORT="${SLUICE_HTTP_PORT:-8080}"
command -v mvn >/dev/null && command -v java >/dev/null || {
  echo "run.sh: needs maven and a JDK 17: apt-get install -y maven openjdk-17-jdk-headless" >&2; exit 1; }
mkdir -p "$SLUICE_DATA_DIR"
echo "run.sh: building the control plane (embedded profile)…"
mvn -B -q package -DskipTests -Dquarkus.profile=embedded
exec java -jar target/quarkus-app/quarkus-run.jar
