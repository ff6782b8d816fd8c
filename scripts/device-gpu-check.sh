#!/bin/bash
# GPU-machine check (run through the device tool, which has no Node and no registry):
# prepare here: mkdir -p .device; xz -c $(which node) > .device/node.xz; a production node_modules
# (npm prune --omit=dev in a copy, build intermediates of better-sqlite3 removed) as
# .device/prod-modules.tar.xz; put /.device/ in .git/info/exclude; then run this script with
# carry [".device"] on nvidia-h200-x2. It runs the executor tests on cgroup v2 and three 1-GPU
# jobs on two GPUs through keisan server, writing logs to $OUT.
set -u
[ -n "${OUT:-}" ] || { echo "run this through the device tool (it replaces node_modules; \$OUT is unset here)" >&2; exit 2; }
R=$(pwd)
mkdir -p /tmp/n && xz -dc .device/node.xz > /tmp/n/node && chmod +x /tmp/n/node && export PATH=/tmp/n:$PATH
rm -rf node_modules && tar -xJf .device/prod-modules.tar.xz
node --version; nvidia-smi -L; grep cgroup2 /proc/mounts; cat /sys/fs/cgroup/cgroup.controllers
echo "== executor tests (cgroup v2)"
KEISAN_TEST_CONCURRENCY=1 timeout 300 node scripts/run-tests.js executors/local > $OUT/executor.log 2>&1; echo "rc=$?"
grep -E "^ℹ (tests|pass|fail|skipped)|✖" $OUT/executor.log | head -20
echo "== crash tests (kill -9 of the daemons while jobs run; storage work)"
KEISAN_TEST_CONCURRENCY=1 timeout 300 node scripts/run-tests.js crash > $OUT/crash.log 2>&1; echo "rc=$?"
grep -E "^ℹ (tests|pass|fail|skipped)|✖" $OUT/crash.log | head -20
echo "== GPU sharing through keisan server"
export KEISAN_DATA=/tmp/kd KEISAN_HOME=/tmp/kh K="node $R/bin/keisan.js"
$K init >/dev/null
(setsid node $R/bin/keisan.js server --port 18470 > $OUT/server.log 2>&1 &)
for i in $(seq 1 60); do curl -sf http://127.0.0.1:18470/api/health >/dev/null && break; sleep 0.5; done
printf %s "$(sed -n 2p /tmp/kd/operator-password)" | $K login --server http://127.0.0.1:18470 admin --password-stdin
mkdir -p /tmp/w && chmod 777 /tmp/w && cd /tmp/w
printf '#!/bin/sh\n#SBATCH --gres=gpu:1\n#SBATCH -t 5\necho "job $SLURM_JOB_ID CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"\nnvidia-smi -L\nsleep 6\n' > g.sh
for i in 1 2 3; do $K submit --queue short g.sh; done
sleep 2; $K jobs; $K why 3
$K submit --gpus 3 g.sh; echo "rc=$? (3 GPUs must be refused)"
sleep 16; $K jobs; for f in slurm-*.out; do echo "--- $f"; cat $f; done
$K job 1 | tail -14
grep -E "GPU|cgroup|enforced" $OUT/server.log | head -5 | cut -c1-600
