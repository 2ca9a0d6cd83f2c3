// report.md and report.html of a chaos run: a verdict table in the style of the test reports the
// suite replaces, but machine-made from checkers; then, per scenario, its fault schedule, every
// check with its evidence when it failed, and (HTML) latency, throughput and leader charts.
import { writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join, relative } from 'node:path';
import { describeExpectation, describeFault } from '../schedule.ts';
import { scenarioByName } from '../scenarios.ts';
import type { ScenarioResult, WorkloadKind } from '../types.ts';
import type { ScenarioCharts } from './chart-data.ts';
import { OUTCOME_COLORS, escapeXml, latencyChart, leaderChart, throughputChart } from './svg.ts';

export interface RunInfo {
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly workload: WorkloadKind;
  readonly rate: number;
}

const VERDICT_TEXT = { pass: 'PASS', fail: 'FAIL', error: 'ERROR', skipped: 'SKIPPED' } as const;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function operationsText(result: ScenarioResult): string {
  const { operations } = result;
  return `${operations.kv + operations.kafka} (${operations.ok} ok, ${operations.fail} fail, ${operations.unknown} unknown)`;
}

function failedChecks(result: ScenarioResult): string {
  if (result.verdict === 'error' || result.verdict === 'skipped') return (result.reason ?? '').split('\n')[0]!.slice(0, 120);
  const failed = result.checks.filter((check) => check.status !== 'pass').map((check) => check.name);
  return failed.length === 0 ? `all ${result.checks.length} passed` : failed.join(', ');
}

function runLine(info: RunInfo, results: readonly ScenarioResult[]): string {
  const passed = results.filter((result) => result.verdict === 'pass').length;
  return `${passed} of ${results.length} scenarios passed · seed ${info.seed} · ${info.nodes} nodes · ${info.durationMs / 1000} s of faults each · workload ${info.workload} at ${info.rate} ops/s · ` +
    `${new Date().toISOString()} · ${cpus().length} CPUs, ${platform()} ${arch()}, Node ${process.versions.node}`;
}

export function markdownReport(directory: string, results: readonly ScenarioResult[], info: RunInfo): string {
  const lines = ['# Cairn chaos report', '', runLine(info, results), '', '| scenario | verdict | operations | faults | checks | time |', '| --- | --- | --- | --- | --- | --- |'];
  for (const result of results) {
    lines.push(`| ${result.scenario} | **${VERDICT_TEXT[result.verdict]}** | ${operationsText(result)} | ${result.faults} | ${failedChecks(result).replace(/\|/g, '\\|')} | ${seconds(result.elapsedMs)} |`);
  }
  lines.push('', 'Re-check the history, from this directory: `cairn chaos check history.jsonl`');
  for (const result of results) {
    const definition = scenarioByName(result.scenario);
    lines.push('', `## ${result.scenario} — ${VERDICT_TEXT[result.verdict]}`, '');
    if (definition !== undefined) lines.push(`${definition.summary}. Checks: ${definition.checks}.`, '');
    if (result.reason !== undefined) lines.push('```', result.reason.slice(0, 4000), '```', '');
    if (result.plan !== null && result.plan.schedule.length > 0) {
      lines.push('| window | at | for | fault |', '| --- | --- | --- | --- |');
      result.plan.schedule.forEach((window, index) => lines.push(`| ${index} | ${seconds(result.plan!.warmupMs + window.atMs)} | ${seconds(window.durationMs)} | ${describeFault(window.fault)} |`));
      for (const expectation of result.plan.expectations) lines.push(`- expected: ${describeExpectation(expectation)}`);
      lines.push('');
    }
    if (result.checks.length > 0) {
      lines.push('| check | status | result |', '| --- | --- | --- |');
      for (const check of result.checks) lines.push(`| ${check.name} | ${check.status} | ${check.summary.replace(/\|/g, '\\|')} |`);
      for (const check of result.checks.filter((each) => each.status !== 'pass' && each.evidence !== undefined)) {
        lines.push('', `Evidence (${check.name}):`, '', '```', check.evidence!, '```');
      }
    }
    if (result.logsDirectory !== null) lines.push('', `Node logs: \`${relative(directory, result.logsDirectory)}/\``);
  }
  return `${lines.join('\n')}\n`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f5f5f5}
.pass{color:#2e7d32;font-weight:bold}.fail,.error{color:#c62828;font-weight:bold}.skipped,.unknown{color:#ef6c00;font-weight:bold}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px;max-height:420px}h2{margin-top:36px;border-top:1px solid #ccc;padding-top:12px}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}`;

function legend(): string {
  const outcomes = (['ok', 'fail', 'unknown'] as const).map((outcome) => `<span><i style="background:${OUTCOME_COLORS[outcome]}"></i>${outcome}</span>`).join('');
  return `<div class="legend">${outcomes}<span>● KV operation</span><span>■ Kafka send</span><span><i style="background:rgba(255,152,0,0.3)"></i>fault window (number = schedule row)</span></div>`;
}

function scenarioHtml(directory: string, result: ScenarioResult, charts: ScenarioCharts | undefined): string {
  const definition = scenarioByName(result.scenario);
  const parts = [`<h2 id="${escapeXml(result.scenario)}">${escapeXml(result.scenario)} — <span class="${result.verdict}">${VERDICT_TEXT[result.verdict]}</span></h2>`];
  if (definition !== undefined) parts.push(`<p>${escapeXml(definition.summary)}. Checks: ${escapeXml(definition.checks)}.</p>`);
  if (result.reason !== undefined) parts.push(`<pre>${escapeXml(result.reason.slice(0, 4000))}</pre>`);
  if (charts !== undefined && charts.latency.length + charts.leaders.length > 0) {
    parts.push(legend(), '<h4>Latency</h4>', latencyChart(charts), `<h4>Throughput (per ${charts.bucketMs} ms)</h4>`, throughputChart(charts), '<h4>Leader and term</h4>', leaderChart(charts));
    if (charts.latencyDropped > 0) parts.push(`<p><small>${charts.latencyDropped} ok points not drawn (sampled).</small></p>`);
  }
  if (result.plan !== null && result.plan.schedule.length > 0) {
    const rows = result.plan.schedule.map((window, index) => {
      const seen = charts?.faults.find((fault) => fault.window === index);
      return `<tr><td>${index}</td><td>${seconds(result.plan!.warmupMs + window.atMs)}</td><td>${seconds(window.durationMs)}</td><td>${escapeXml(describeFault(window.fault))}</td><td>${escapeXml(seen?.detail ?? '')}</td></tr>`;
    }).join('');
    parts.push(`<table><tr><th>window</th><th>planned at</th><th>for</th><th>fault</th><th>what happened</th></tr>${rows}</table>`);
    if (result.plan.expectations.length > 0) parts.push(`<ul>${result.plan.expectations.map((expectation) => `<li>expected: ${escapeXml(describeExpectation(expectation))}</li>`).join('')}</ul>`);
  }
  if (result.checks.length > 0) {
    const rows = result.checks.map((check) => `<tr><td>${escapeXml(check.name)}</td><td class="${check.status}">${check.status}</td><td>${escapeXml(check.summary)}${check.status !== 'pass' && check.evidence !== undefined ? `<pre>${escapeXml(check.evidence)}</pre>` : ''}</td></tr>`).join('');
    parts.push(`<table><tr><th>check</th><th>status</th><th>result</th></tr>${rows}</table>`);
  }
  if (result.logsDirectory !== null) parts.push(`<p>Node logs: <code>${escapeXml(relative(directory, result.logsDirectory))}/</code></p>`);
  return parts.join('\n');
}

export function htmlReport(directory: string, results: readonly ScenarioResult[], charts: ReadonlyMap<string, ScenarioCharts>, info: RunInfo): string {
  const rows = results.map((result) => `<tr><td><a href="#${escapeXml(result.scenario)}">${escapeXml(result.scenario)}</a></td><td class="${result.verdict}">${VERDICT_TEXT[result.verdict]}</td>` +
    `<td>${escapeXml(operationsText(result))}</td><td>${result.faults}</td><td>${escapeXml(failedChecks(result))}</td><td>${seconds(result.elapsedMs)}</td></tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cairn chaos report</title><style>${STYLE}</style></head><body>` +
    `<h1>Cairn chaos report</h1><p>${escapeXml(runLine(info, results))}</p>` +
    `<table><tr><th>scenario</th><th>verdict</th><th>operations</th><th>faults</th><th>checks</th><th>time</th></tr>${rows}</table>` +
    results.map((result) => scenarioHtml(directory, result, charts.get(result.scenario))).join('\n') + '</body></html>\n';
}

/** Writes report.md and report.html into `directory`. */
export function writeReports(directory: string, results: readonly ScenarioResult[], charts: ReadonlyMap<string, ScenarioCharts>, info: RunInfo): void {
  writeFileSync(join(directory, 'report.md'), markdownReport(directory, results, info));
  writeFileSync(join(directory, 'report.html'), htmlReport(directory, results, charts, info));
}
