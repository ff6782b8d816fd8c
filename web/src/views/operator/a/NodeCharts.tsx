import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { alignedColumns, type Chart } from './chart-data.ts';

const COLOURS = ['#1f5fbf', '#c0262d', '#1a7f37', '#8a5a00', '#6f42c1', '#0b7285', '#d9480f', '#495057'];
const HEIGHT = 180;

export interface LineChartProps {
  chart: Chart;
  /** The lines' names, in the reader's language. */
  labels: string[];
  /** How a value reads on the axis and in the legend. */
  format: (value: number) => string;
  /** The time axis' name and how a time reads (ms since the epoch), in the reader's language and zone. */
  timeLabel: string;
  formatTime: (ms: number, detail: TimeDetail) => string;
}

/** How much of a time the axis shows: its ticks' spacing decides. */
export type TimeDetail = 'seconds' | 'minutes' | 'days';

/** Byte axes step in powers of two (1, 2, 4 … 512 of each binary unit), so ticks read 8 GiB, 16 GiB. */
const BYTE_INCREMENTS = Array.from({ length: 6 }, (_, unit) => Array.from({ length: 10 }, (_, power) => 2 ** power * 1024 ** unit)).flat();

/** One uPlot chart; new data is drawn into the same canvas, and it follows its box's width. */
export function LineChart({ chart, labels, format, timeLabel, formatTime }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = alignedColumns(chart.lines) as uPlot.AlignedData;
  const shape = `${chart.key}:${labels.join('|')}`;
  const formatRef = useRef(format);
  formatRef.current = format;
  const timeRef = useRef(formatTime);
  timeRef.current = formatTime;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const fmt = (v: number | null) => (v === null || v === undefined ? '—' : formatRef.current(v));
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: HEIGHT,
      series: [{ label: timeLabel, value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : timeRef.current(v * 1000, 'seconds')) }, ...labels.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: true, value: (_u: uPlot, v: number | null) => fmt(v) }))],
      axes: [
        {
          values: (_u: uPlot, splits: number[], _axis: number, _space: number, increment: number) =>
            splits.map((v) => timeRef.current(v * 1000, increment < 60 ? 'seconds' : increment < 86_400 ? 'minutes' : 'days')),
        },
        { size: 72, values: (_u: uPlot, splits: number[]) => splits.map((v) => fmt(v)), ...(chart.unit === 'bytes' ? { incrs: BYTE_INCREMENTS } : {}) },
      ],
      scales: {
        // One sample so far: a minute before it, not a range of days around it.
        x: { time: true, range: (_u: uPlot, min: number | null, max: number | null) => (min === null || max === null ? [0, 1] : min === max ? [min - 60, max] : [min, max]) },
        y: { range: (_u: uPlot, _min: number | null, max: number | null) => [0, chart.unit === 'ratio' ? Math.max(1, max ?? 1) : Math.max(1, (max ?? 1) * 1.1)] },
      },
      cursor: { drag: { x: false, y: false } },
    };
    const created = new uPlot(options, data, element);
    created.root.querySelector('canvas')?.setAttribute('aria-hidden', 'true');
    plot.current = created;
    const resize = new ResizeObserver(() => created.setSize({ width: Math.max(200, element.clientWidth), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      created.destroy();
      plot.current = null;
    };
    // A new chart only when its lines change; new points go through setData below.
  }, [shape, timeLabel]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return <div ref={box} className="ops-chart-canvas" data-chart={chart.key} />;
}

export default LineChart;
