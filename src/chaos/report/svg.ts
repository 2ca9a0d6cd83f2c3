// Inline SVG charts for the self-contained HTML report (no scripts, no network): latency of every
// operation over time coloured by outcome, throughput with the fault windows shaded, and the
// leader and term over time.
import type { ScenarioCharts } from './chart-data.ts';

export const OUTCOME_COLORS = { ok: '#2e7d32', fail: '#ef6c00', unknown: '#c62828' } as const;
const NODE_COLORS = ['#1565c0', '#6a1b9a', '#00838f', '#ad1457', '#558b2f', '#4e342e', '#283593', '#00695c', '#9e9d24'];
const WIDTH = 900;
const MARGIN = { left: 58, right: 12, top: 12, bottom: 26 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function nodeColor(id: number): string {
  return NODE_COLORS[(id - 1) % NODE_COLORS.length]!;
}

interface Frame {
  readonly height: number;
  readonly x: (ms: number) => number;
  readonly plotHeight: number;
}

function frame(charts: ScenarioCharts, height: number): Frame {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  return { height, plotHeight: height - MARGIN.top - MARGIN.bottom, x: (ms) => MARGIN.left + (Math.max(0, Math.min(ms, charts.endMs)) / charts.endMs) * plotWidth };
}

function timeAxis(charts: ScenarioCharts, f: Frame): string {
  const seconds = charts.endMs / 1000;
  const step = [1, 2, 5, 10, 20, 30, 60, 120, 300].find((candidate) => seconds / candidate <= 12) ?? 600;
  const ticks: string[] = [];
  for (let second = 0; second <= seconds; second += step) {
    const x = f.x(second * 1000).toFixed(1);
    ticks.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${f.height - MARGIN.bottom}" stroke="#eee"/><text x="${x}" y="${f.height - 8}" font-size="10" text-anchor="middle">${second}s</text>`);
  }
  return ticks.join('');
}

/** The fault windows as shaded bands, numbered like the schedule. */
function faultBands(charts: ScenarioCharts, f: Frame): string {
  return charts.faults.map((window) => {
    const x1 = f.x(window.startMs);
    const x2 = f.x(window.stopMs ?? charts.endMs);
    const fill = window.failed ? 'rgba(198,40,40,0.12)' : 'rgba(255,152,0,0.13)';
    return `<rect x="${x1.toFixed(1)}" y="${MARGIN.top}" width="${Math.max(1, x2 - x1).toFixed(1)}" height="${f.plotHeight}" fill="${fill}"><title>${escapeXml(`window ${window.window}: ${window.name} — ${window.detail}`)}</title></rect>` +
      `<text x="${(x1 + 2).toFixed(1)}" y="${MARGIN.top + 10}" font-size="9" fill="#b26a00">${window.window}</text>`;
  }).join('');
}

function svg(f: Frame, body: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${f.height}" width="100%" role="img" aria-label="${escapeXml(label)}" font-family="sans-serif">` +
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${WIDTH - MARGIN.left - MARGIN.right}" height="${f.plotHeight}" fill="#fff" stroke="#ccc"/>${body}</svg>`;
}

/** Latency (log scale, 1 ms to 10 s) of every operation at its call time, by outcome. */
export function latencyChart(charts: ScenarioCharts): string {
  const f = frame(charts, 220);
  const y = (ms: number) => MARGIN.top + f.plotHeight * (1 - Math.min(4, Math.max(0, Math.log10(ms))) / 4);
  const axis = [1, 10, 100, 1000, 10_000].map((ms) => `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(ms).toFixed(1)}" y2="${y(ms).toFixed(1)}" stroke="#eee"/>` +
    `<text x="${MARGIN.left - 4}" y="${(y(ms) + 3).toFixed(1)}" font-size="10" text-anchor="end">${ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`}</text>`).join('');
  const points = charts.latency.map((point) => {
    const cx = f.x(point.timeMs).toFixed(1);
    const cy = y(point.latencyMs).toFixed(1);
    const color = OUTCOME_COLORS[point.outcome];
    return point.workload === 'kv' ? `<circle cx="${cx}" cy="${cy}" r="1.7" fill="${color}"/>` : `<rect x="${(Number(cx) - 1.6).toFixed(1)}" y="${(Number(cy) - 1.6).toFixed(1)}" width="3.2" height="3.2" fill="${color}"/>`;
  }).join('');
  return svg(f, faultBands(charts, f) + axis + timeAxis(charts, f) + points, 'latency over time');
}

/** Operations per second in each bucket, stacked by outcome. */
export function throughputChart(charts: ScenarioCharts): string {
  const f = frame(charts, 170);
  const perSecond = (count: number) => count / (charts.bucketMs / 1000);
  const peak = Math.max(1, ...charts.throughput.map((bucket) => perSecond(bucket.ok + bucket.fail + bucket.unknown)));
  const y = (value: number) => MARGIN.top + f.plotHeight * (1 - value / peak);
  const axis = [0, peak / 2, peak].map((value) => `<text x="${MARGIN.left - 4}" y="${(y(value) + 3).toFixed(1)}" font-size="10" text-anchor="end">${value.toFixed(0)}/s</text>`).join('');
  const bars = charts.throughput.map((bucket) => {
    const x1 = f.x(bucket.timeMs);
    const width = Math.max(1, f.x(bucket.timeMs + charts.bucketMs) - x1 - 0.5);
    let base = 0;
    return (['ok', 'fail', 'unknown'] as const).map((outcome) => {
      const value = perSecond(bucket[outcome]);
      if (value === 0) return '';
      const top = y(base + value);
      const rect = `<rect x="${x1.toFixed(1)}" y="${top.toFixed(1)}" width="${width.toFixed(1)}" height="${(y(base) - top).toFixed(1)}" fill="${OUTCOME_COLORS[outcome]}"/>`;
      base += value;
      return rect;
    }).join('');
  }).join('');
  return svg(f, faultBands(charts, f) + timeAxis(charts, f) + axis + bars, 'throughput over time');
}

/** The term as a step line, on bands coloured by the leader (grey: none seen). */
export function leaderChart(charts: ScenarioCharts): string {
  const f = frame(charts, 150);
  const maxTerm = Math.max(1, ...charts.leaders.map((segment) => segment.term));
  const minTerm = Math.min(maxTerm, ...charts.leaders.map((segment) => segment.term).filter((term) => term > 0));
  const y = (term: number) => MARGIN.top + 14 + (f.plotHeight - 14) * (1 - (term - minTerm) / Math.max(1, maxTerm - minTerm));
  const bands = charts.leaders.map((segment) => {
    const x1 = f.x(segment.startMs);
    const width = Math.max(0.5, f.x(segment.endMs) - x1);
    const color = segment.leader === 0 ? '#bdbdbd' : nodeColor(segment.leader);
    return `<rect x="${x1.toFixed(1)}" y="${MARGIN.top}" width="${width.toFixed(1)}" height="10" fill="${color}"><title>${escapeXml(segment.leader === 0 ? `no leader seen (term ${segment.term})` : `node ${segment.leader} leads term ${segment.term}`)}</title></rect>`;
  }).join('');
  const path = charts.leaders.filter((segment) => segment.term > 0).map((segment, index) => `${index === 0 ? 'M' : 'L'}${f.x(segment.startMs).toFixed(1)},${y(segment.term).toFixed(1)} L${f.x(segment.endMs).toFixed(1)},${y(segment.term).toFixed(1)}`).join(' ');
  const axis = [minTerm, maxTerm].map((term) => `<text x="${MARGIN.left - 4}" y="${(y(term) + 3).toFixed(1)}" font-size="10" text-anchor="end">term ${term}</text>`).join('');
  const legend = charts.nodes.map((id, index) => `<rect x="${MARGIN.left + 8 + index * 62}" y="${f.height - MARGIN.bottom - 14}" width="9" height="9" fill="${nodeColor(id)}"/><text x="${MARGIN.left + 20 + index * 62}" y="${f.height - MARGIN.bottom - 6}" font-size="10">node ${id}</text>`).join('');
  return svg(f, faultBands(charts, f) + timeAxis(charts, f) + bands + `<path d="${path}" fill="none" stroke="#333" stroke-width="1.5"/>` + axis + legend, 'leader and term over time');
}
