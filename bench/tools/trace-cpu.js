// trace-cpu: where tracing's cost goes, as CPU time per ask on each kind of thread (the ratio
// is trace-throughput's). The same loop as trace-throughput (1,000 `ref.ask` in flight to an
// echo actor, 2 worker threads) on three kinds of node, alternating, each side on a node of its
// own: tracing off; `rows`, every record written into its batch and the batch discarded unsent
// (`tracing: 'unpublished'`, no tracer: the kernel thread's writing alone); and tracing to a
// file log. CPU read from /proc (Linux only) for the kernel thread, the process's other threads
// (V8's garbage collector helpers, libuv), the worker threads, and nats-server. A traced node
// runs first, unmeasured, so that no side is timed on code the process has not compiled yet
// (without it, the first side, tracing off, read about 10% slower: on/off 0.97 against 0.87 to 0.89).
//
//   npm run build && node bench/tools/trace-cpu.js [--runs 5] [--asks 150000]

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, startTracer } from 'autonomy-os';
import { EmbeddedNats } from 'autonomy-os/internal';
import { throughput } from '../lib/measure.js';
import { median } from '../lib/report.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const RUNS = arg('runs', 5);
const ASKS = arg('asks', 150_000);
const TICK_US = 1e6 / 100; // /proc counts CPU time in clock ticks of 10 ms

/** utime + stime of a thread or process, in ticks. */
function ticks(statPath) {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function threads() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(Number(tid), ticks(`/proc/self/task/${tid}/stat`));
    } catch {
      // a thread that ended meanwhile
    }
  }
  return out;
}

const TRACING = { off: false, rows: 'unpublished', on: true };
const SIDES = Object.keys(TRACING);

async function side(url, natsPid, name, dir, n) {
  const before = new Set(threads().keys());
  const system = await ActorSystem.start({ nats: url, namespace: `tracecpu${n}`, threads: 2, logLevel: 'warn', logTo: 'stderr', tracing: TRACING[name] });
  try {
    if (name === 'on') await startTracer(system, { file: join(dir, `trace-${n}.log`) });
    const echo = await system.spawn(new URL('../actors/echo.mjs', import.meta.url), { type: 'echo', key: 'bench' });
    await throughput(() => echo.ask({ text: 'hello' }), 5_000, 1_000);
    const a = threads();
    const natsA = ticks(`/proc/${natsPid}/stat`);
    const rate = await throughput(() => echo.ask({ text: 'hello' }), ASKS, 1_000);
    const b = threads();
    const us = (t) => (t * TICK_US) / ASKS;
    const g = { rate, kernel: 0, other: 0, workers: 0, nats: us(ticks(`/proc/${natsPid}/stat`) - natsA) };
    for (const [tid, t] of b) {
      const d = us(t - (a.get(tid) ?? 0));
      if (tid === process.pid) g.kernel += d;
      else if (before.has(tid)) g.other += d;
      else g.workers += d;
    }
    return g;
  } finally {
    await system.shutdown({ timeoutMs: 5_000 });
  }
}

const nats = await EmbeddedNats.start();
const dir = mkdtempSync(join(tmpdir(), 'aos-trace-cpu-'));
try {
  const sums = { off: [], rows: [], on: [] };
  let n = 0;
  await side(nats.url, nats.pid, 'on', dir, n++);
  process.stderr.write('trace-cpu: warm-up done\n');
  for (let r = 0; r < RUNS; r++) {
    for (const name of r % 2 === 0 ? SIDES : [...SIDES].reverse()) {
      sums[name].push(await side(nats.url, nats.pid, name, dir, n++));
      process.stderr.write(`trace-cpu: run ${r + 1}/${RUNS} ${name} done\n`);
    }
  }
  const mean = (xs, k) => xs.reduce((s, x) => s + x[k], 0) / xs.length;
  console.log(`# trace-cpu: CPU µs per ask, means of ${RUNS} runs of ${ASKS} asks (asks/s: medians)`);
  console.log('side,asks_per_s,kernel_thread,other_threads,worker_threads,nats_server,total');
  for (const name of SIDES) {
    const xs = sums[name];
    const cols = ['kernel', 'other', 'workers', 'nats'].map((k) => mean(xs, k));
    console.log([name, Math.round(median(xs.map((x) => x.rate))), ...cols.map((c) => c.toFixed(2)), cols.reduce((s, c) => s + c, 0).toFixed(2)].join(','));
  }
  // The kernel thread is the busiest; but on two cores, CPU that tracing adds to any thread (the
  // tracer's worker, nats-server) is taken from the loop too, so no one column predicts the ratio.
  for (const name of ['rows', 'on']) {
    const rates = median(sums[name].map((x) => x.rate)) / median(sums.off.map((x) => x.rate));
    const kernel = mean(sums.off, 'kernel') / mean(sums[name], 'kernel');
    console.log(`# throughput ${name}/off ${rates.toFixed(3)}; kernel thread's CPU per ask off/${name} ${kernel.toFixed(3)}`);
  }
} finally {
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
