import { defineMessages } from '../define.ts';

/** Help texts of the `metrics` commands (commander descriptions of commands, arguments and options). */
export const metrics = defineMessages({
  en: {
    'metrics.nodes': 'the nodes whose agents report: up or down, CPU, load, memory, swap, pressure, GPUs free, jobs',
    'metrics.metrics': "one node's recent metrics: latest, min, max and average of each series (of the rate for counters); --json gives the points",
    'metrics.metrics.arg.node': 'the node, as `keisan nodes` names it',
    'metrics.metrics.opt.since': 'how far back, e.g. 15m, 1h, 6h',
    'metrics.metrics.opt.metric': 'only these metrics (default: all but node_cpu_seconds_total)',
  },
  ja: {
    'metrics.nodes': 'エージェントが報告するノード: 稼働か停止か、CPU、負荷、メモリ、スワップ、プレッシャー、空き GPU、ジョブ',
    'metrics.metrics': 'ノード 1 台の最近のメトリクス: 各系列の最新値、最小、最大、平均（カウンターはレート）。--json で全点',
    'metrics.metrics.arg.node': 'ノード（`keisan nodes` が示す名前）',
    'metrics.metrics.opt.since': 'さかのぼる期間。例: 15m、1h、6h',
    'metrics.metrics.opt.metric': 'これらのメトリクスだけ（既定: node_cpu_seconds_total 以外すべて）',
  },
});
