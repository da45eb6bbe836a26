#!/usr/bin/env bash
# Runs every test of the control plane and the agent on a fresh Debian 12 machine (as root: it installs the
# packages the tests drive and starts PostgreSQL first). Slow suites (@Tag("slow")) run too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
mvn -B verify
if [ -f agent/pom.xml ]; then
  mvn -B -f agent/pom.xml verify
fi
