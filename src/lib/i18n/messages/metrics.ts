import { defineMessages } from '../define.ts';

/** Help texts of the `metrics` commands (commander descriptions of commands, arguments and options). */
export const metrics = defineMessages({
  en: {
    'metrics.nodes': 'the nodes whose agents report: up or down, CPU, load, memory, swap, pressure, GPUs free, jobs',
    'metrics.metrics': "one node's recent metrics: latest, min, max and average of each series (of the rate for counters); --json gives the points",
    'metrics.metrics.arg.node': 'the node, as `keisan nodes` names it',
    'metrics.metrics.opt.since': 'how far back, e.g. 15m, 1h, 6h',
    'metrics.metrics.opt.metric': 'only these metrics (default: all but node_cpu_seconds_total)',
    'metrics.empty.agent-has-reported-yet': '(no agent has reported yet: start one with `keisan agent` on each node, or `keisan up`)',
    'metrics.empty.such-series-in-that': '(no such series in that time: see `keisan metrics NODE` for the names there are)',
  },
  ja: {
    'metrics.nodes': 'エージェントが報告するノード: 稼働か停止か、CPU、負荷、メモリ、スワップ、プレッシャー、空き GPU、ジョブ',
    'metrics.metrics': 'ノード 1 台の最近のメトリクス: 各系列の最新値、最小、最大、平均（カウンターはレート）。--json で全点',
    'metrics.metrics.arg.node': 'ノード（`keisan nodes` が示す名前）',
    'metrics.metrics.opt.since': 'さかのぼる期間。例: 15m、1h、6h',
    'metrics.metrics.opt.metric': 'これらのメトリクスだけ（既定: node_cpu_seconds_total 以外すべて）',
    'metrics.empty.agent-has-reported-yet': '（まだ報告したエージェントはありません: 各ノードで `keisan agent`、または `keisan up` で起動してください）',
    'metrics.empty.such-series-in-that': '（その期間にその系列はありません: ある名前は `keisan metrics NODE` で確認できます）',
  },
});
