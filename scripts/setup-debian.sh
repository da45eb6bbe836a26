#!/usr/bin/env bash
# Installs and starts everything the tests and benchmarks need on a fresh Debian 12 machine (run as root).
# Idempotent: a second run only checks.
set -euo pipefail

PKGS=(postgresql qemu-utils qemu-block-extra qemu-system-x86 ipxe-qemu libnbd-bin python3-libnbd nbdkit
      nginx-light fio wrk curl jq maven openjdk-17-jdk-headless binutils
      debootstrap busybox-static cpio kmod e2fsprogs xz-utils)   # the last line: the Linux guest of LinuxGuestBootTest
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL 15: start the cluster and create the test role and databases (scram password login over TCP).
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  pg_ctlcluster 15 main start
fi
for i in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='sluice'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE sluice LOGIN PASSWORD 'sluice'\""
for db in sluice sluice_test; do
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='$db'\"" | grep -q 1 \
    || su postgres -c "createdb -O sluice $db"
done
echo "setup: ok (PostgreSQL on 127.0.0.1:5432, role sluice)"
