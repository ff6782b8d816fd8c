#!/bin/bash
# The recovery room on a pure cgroup v2 host (run through the device tool with carry [".device"],
# as scripts/device-gpu-check.sh explains): sampler, detectors, victim, actions, evidence and the
# watchdog loop tests on real v2 cgroups. Logs go to $OUT.
set -u
[ -n "${OUT:-}" ] || { echo "run this through the device tool (\$OUT is unset here)" >&2; exit 2; }
mkdir -p /tmp/n && xz -dc .device/node.xz > /tmp/n/node && chmod +x /tmp/n/node && export PATH=/tmp/n:$PATH
rm -rf node_modules && tar -xJf .device/prod-modules.tar.xz
node --version; uname -r; grep cgroup2 /proc/mounts | head -2; cat /sys/fs/cgroup/cgroup.controllers
KEISAN_TEST_CONCURRENCY=1 timeout 500 node scripts/run-tests.js recovery/sampler recovery/loop recovery/actions recovery/watchdog recovery/evidence recovery/e2e recovery/detectors > $OUT/recovery.log 2>&1; echo "rc=$?"
grep -E "^ℹ (tests|pass|fail|skipped)|^✖|# .*(ms|µs)|SKIP" $OUT/recovery.log | head -40
