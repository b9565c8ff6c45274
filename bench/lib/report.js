// How every scenario reports: one system line, then one CSV row per metric under the fixed
// header that run.js prints once. Rows are what run.js collects, so their shape is the
// contract between the scenarios and the runner.

import os from 'node:os';

export const CSV_HEADER = 'scenario,metric,baseline,candidate,ratio,unit,target,ok';
export const SYSTEM_PREFIX = '# system:';

export function systemLine() {
  const cpus = os.cpus();
  const model = (cpus[0]?.model ?? 'unknown').trim().replace(/\s+/g, ' ');
  return `${SYSTEM_PREFIX} node ${process.version}, ${os.platform()}-${os.arch()}, cpu "${model}", ${cpus.length} cores`;
}

function fmt(n) {
  if (typeof n !== 'number') return String(n);
  if (!Number.isFinite(n)) return 'NaN';
  return Math.abs(n) >= 100 ? String(Math.round(n)) : n.toFixed(2);
}

/**
 * One CSV row. `target` is a string (`>=0.4`, `<=+150us` or `-` for informative rows) and
 * `ok` is true, false or undefined (informative: printed as `-`).
 */
export function row({ scenario, metric, baseline, candidate, unit, target = '-', ok }) {
  const ratio = candidate / baseline;
  const cells = [scenario, metric, fmt(baseline), fmt(candidate), ratio.toFixed(3), unit, target, ok === undefined ? '-' : String(ok)];
  return cells.join(',');
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile of an already sorted array. */
export function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
