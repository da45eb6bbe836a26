#!/usr/bin/env bash
# Runs every test of the control plane and the agent on a fresh Debian 12 machine (as root: it installs the
# packages the tests drive and starts PostgreSQL first). Slow suites (@Tag("slow")) run too.
# The agent goes first: its `verify` produces agent/target/sluice-agent.jar, which the control plane's
# end-to-end tests (src/test/java/dev/sluice/agent) start as a real process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
mvn -B -f agent/pom.xml verify
mvn -B verify
