// `npm run bench`: starts one embedded nats-server on a free loopback port, runs each
// scenario in a child process of its own against it, one after another, echoes their rows
// under one CSV header, then prints a summary table and writes bench/results/latest.csv.
// A failing scenario is reported and skipped; the exit code is non-zero if any failed.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EmbeddedNats } from 'autonomy-os/internal';
import { CSV_HEADER, SYSTEM_PREFIX } from './lib/report.js';

const SCENARIOS = ['ask-throughput', 'ask-latency', 'tell-throughput', 'restart-latency', 'failover-gap', 'broker-decision', 'broker-ask-throughput', 'trace-throughput'];
const SCENARIO_TIMEOUT_MS = 60_000;
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** Runs one scenario; resolves with its CSV rows and whether it succeeded. */
function runScenario(name, natsUrl) {
  return new Promise((resolve) => {
    const rows = [];
    const child = spawn(process.execPath, [here(`./scenarios/${name}.js`), '--nats', natsUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, SCENARIO_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
      console.log(line);
      if (line.startsWith(`${name},`)) rows.push(line);
    });
    const finish = (error) => {
      clearTimeout(timer);
      resolve({ name, rows, error });
    };
    child.once('error', (err) => finish(err.message));
    child.once('close', (code, signal) => {
      if (timedOut) finish(`killed after ${SCENARIO_TIMEOUT_MS} ms`);
      else if (code !== 0) finish(`exited with ${signal ?? `code ${code}`}`);
      else if (rows.length === 0) finish('printed no rows');
      else finish(undefined);
    });
  });
}

function summary(results) {
  const table = [['scenario', 'metric', 'baseline', 'candidate', 'unit', 'ratio', 'target', 'verdict']];
  for (const r of results) {
    if (r.error !== undefined) table.push([r.name, 'FAILED', '', '', '', '', '', r.error]);
    for (const line of r.rows) {
      const [scenario, metric, baseline, candidate, ratio, unit, target, ok] = line.split(',');
      // A `+Nus` target is an added cost: show the difference rather than the ratio's meaning.
      const diff = target.includes('+') ? ` (${Number(candidate) - Number(baseline) >= 0 ? '+' : ''}${(Number(candidate) - Number(baseline)).toFixed(0)} ${unit})` : '';
      const verdict = ok === '-' ? 'informative' : ok === 'true' ? `ok${diff}` : `MISSED${diff}`;
      table.push([scenario, metric, baseline, candidate, unit, ratio, target, verdict]);
    }
  }
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  return table.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

async function main() {
  const nats = await EmbeddedNats.start(); // with JetStream, as in production: the nodes keep their policy and cluster key there
  const results = [];
  try {
    console.log(`# nats-server ${nats.url} (embedded, loopback)`);
    console.log(CSV_HEADER);
    for (const name of SCENARIOS) {
      const result = await runScenario(name, nats.url);
      if (result.error !== undefined) console.error(`# ${name} FAILED: ${result.error}`);
      results.push(result);
    }
  } finally {
    await nats.stop();
  }
  console.log('\n' + summary(results));
  const lines = results.flatMap((r) => r.rows);
  mkdirSync(here('./results'), { recursive: true });
  writeFileSync(here('./results/latest.csv'), [CSV_HEADER, ...lines].join('\n') + '\n');
  console.log(`\nwrote bench/results/latest.csv (${lines.length} rows)`);
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length > 0) {
    console.error(`${failed.length} scenario(s) failed: ${failed.map((r) => r.name).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exitCode = 1;
});
