#!/bin/bash
# Warm-read benchmark: the agent (fully prefetched) against qemu-nbd serving the same raw image.
# Needs fio, qemu-nbd; run from the repository root after `mvn -B -f agent/pom.xml verify`.
set -euo pipefail
out=$(mktemp -d)
trap 'kill $(cat "$out"/*.pid 2>/dev/null) 2>/dev/null || true' EXIT
head -c 268435456 /dev/urandom > "$out/img.raw"
cp_classes=agent/target/classes:agent/target/test-classes
java -cp "$cp_classes" dev.sluice.agent.fixture.FixtureControlPlane "$out/img.raw" 65536 > "$out/fixture.out" &
echo $! > "$out/fixture.pid"
sleep 2
url=$(cut -d' ' -f1 "$out/fixture.out")
java -jar agent/target/sluice-agent.jar run --control-plane "$url" --machine m-test --token secret-token \
  --cache-dir "$out/cache" --nbd-unix "$out/agent.sock" --prefetch-rate 0 > "$out/agent.log" 2>&1 &
echo $! > "$out/agent.pid"
qemu-nbd -f raw -t -k "$out/qemu.sock" -e 8 "$out/img.raw" &
echo $! > "$out/qemu.pid"
until grep -q "prefetch complete" "$out/agent.log"; do sleep 1; done
for s in agent qemu; do
  for spec in "randread 4k 32 2" "read 1m 8 1" "randwrite 4k 32 2"; do
    set -- $spec
    echo "== $s $1 bs=$2 iodepth=$3 jobs=$4"
    fio --name=$1 --ioengine=nbd --uri="nbd+unix:///?socket=$out/$s.sock" --size=256m --time_based --runtime=8 \
      --rw=$1 --bs=$2 --iodepth=$3 --numjobs=$4 --group_reporting | grep -E "IOPS"
  done
done
