#!/bin/bash
# GPU-machine check of the monitor room (run through the device tool with carry [".device"], as
# scripts/device-gpu-check.sh explains): the metrics tests on a pure cgroup v2 host, then a real
# server and agent — GPU series from the real nvidia-smi, a running job's cgroup v2 usage, the
# agent's /metrics, keisan nodes and keisan metrics. Logs go to $OUT.
set -u
[ -n "${OUT:-}" ] || { echo "run this through the device tool (\$OUT is unset here)" >&2; exit 2; }
R=$(pwd)
mkdir -p /tmp/n && xz -dc .device/node.xz > /tmp/n/node && chmod +x /tmp/n/node && export PATH=/tmp/n:$PATH
rm -rf node_modules && tar -xJf .device/prod-modules.tar.xz
node --version; nvidia-smi -L; grep cgroup2 /proc/mounts | head -2
echo "== metrics and checks tests"
KEISAN_TEST_CONCURRENCY=2 timeout 240 node scripts/run-tests.js monitor/metrics monitor/checks > $OUT/tests.log 2>&1; echo "rc=$?"
grep -E "^ℹ (tests|pass|fail|skipped)|✖" $OUT/tests.log | head -20
echo "== server + agent"
export KEISAN_DATA=/tmp/kd KEISAN_HOME=/tmp/kh K="node $R/bin/keisan.js"
$K init >/dev/null
(setsid node $R/bin/keisan.js server --port 18470 > $OUT/server.log 2>&1 &)
for i in $(seq 1 60); do curl -sf http://127.0.0.1:18470/api/health >/dev/null && break; sleep 0.5; done
(setsid node $R/bin/keisan.js agent --server http://127.0.0.1:18470 --interval 2s --metrics-port 19810 --roles compute > $OUT/agent.log 2>&1 &)
printf %s "$(sed -n 2p /tmp/kd/operator-password)" | $K login --server http://127.0.0.1:18470 admin --password-stdin
mkdir -p /tmp/w && chmod 777 /tmp/w && cd /tmp/w
printf '#!/bin/sh\n#SBATCH --gres=gpu:1\n#SBATCH --mem=2G\n#SBATCH -t 5\npython3 -c "b=bytearray(300*1024*1024); import time; time.sleep(20)" 2>/dev/null || (head -c 300M /dev/zero | tail -c 1 >/dev/null; sleep 20)\n' > g.sh
$K submit --queue short g.sh
sleep 10
$K nodes; $K jobs
H=$(hostname)
$K metrics "$H" --since 5m --metric keisan_gpu_utilization_ratio --metric keisan_gpu_memory_used_bytes --metric keisan_gpu_temperature_celsius --metric keisan_gpu_power_watts --metric keisan_job_memory_bytes --metric keisan_job_pids --metric node_pressure_memory_waiting_seconds_total
curl -s http://127.0.0.1:19810/metrics > $OUT/agent-metrics.txt; grep -E "^keisan_(gpu|job)_" $OUT/agent-metrics.txt | head -30
grep -c . $OUT/agent-metrics.txt
$K checks | head -20
