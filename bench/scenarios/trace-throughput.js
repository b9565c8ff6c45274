// trace-throughput: what recording every message costs. The same ask loop (1,000 in flight,
// ref.ask to an echo actor on the node) with the kernel's trace on, written by a real tracer
// actor to a hash-chained file log, against a node with tracing off (the `tracing: false`
// option exists for this benchmark only). Nodes of each kind alternate, A B, B A, ...; each
// side's figure is the median of its measured rounds. Target: at least 0.9 (issue 5).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, startTracer } from 'autonomy-os';
import { main, natsUrlFromArgs, withDeadline } from '../lib/harness.js';
import { throughput } from '../lib/measure.js';
import { median, row } from '../lib/report.js';

const SCENARIO = 'trace-throughput';
const IN_FLIGHT = 1_000;
// A round long enough to hold many trace batches (at 200k asks/s, 20,000 asks was a tenth of a
// second: a few batches, and the fresh tracer's first, slow turns weighed on every round).
const ASKS_PER_ROUND = Number(process.env.BENCH_TRACE_ASKS ?? 100_000);
const WARMUP_ROUNDS = 1;
const MEASURED_ROUNDS = Number(process.env.BENCH_TRACE_ROUNDS ?? 5);
const TARGET = 0.9;

main(async () => {
  const url = natsUrlFromArgs();
  const dir = mkdtempSync(join(tmpdir(), 'aos-bench-trace-'));
  let n = 0;
  const side = async (traced) => {
    const system = await ActorSystem.start({ nats: url, namespace: `benchtrace${n++}`, threads: 2, logLevel: 'warn', logTo: 'stderr', tracing: traced });
    try {
      if (traced) await startTracer(system, { file: join(dir, `trace-${n}.log`) });
      const echo = await system.spawn(new URL('../actors/echo.mjs', import.meta.url), { type: 'echo', key: 'bench' });
      const value = { text: 'hello' };
      await throughput(() => echo.ask(value), 2_000, IN_FLIGHT);
      const rate = await withDeadline(throughput(() => echo.ask(value), ASKS_PER_ROUND, IN_FLIGHT), 60_000, `${traced ? 'traced' : 'untraced'} round`);
      return rate;
    } finally {
      await system.shutdown({ timeoutMs: 5_000 });
    }
  };
  try {
    const samples = { off: [], on: [] };
    for (let round = 0; round < WARMUP_ROUNDS + MEASURED_ROUNDS; round++) {
      for (const name of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
        const rate = await side(name === 'on');
        if (round >= WARMUP_ROUNDS) samples[name].push(rate);
      }
    }
    const r = { off: median(samples.off), on: median(samples.on) };
    const fmt = (xs) => xs.map((x) => Math.round(x)).join(' ');
    console.log(`# ${SCENARIO} rounds (asks/s): tracing off ${fmt(samples.off)}; tracing to the file log ${fmt(samples.on)}`);
    console.log(row({ scenario: SCENARIO, metric: 'ref_ask_traced', baseline: r.off, candidate: r.on, unit: 'asks/s', target: `>=${TARGET}`, ok: r.on / r.off >= TARGET }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
