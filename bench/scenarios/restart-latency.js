// restart-latency: how long a supervised actor is out after a failure: from the failing turn
// to the restarted actor's reply to the next message. A pair of asks is sent back to back: a
// failing one (maxAttempts 1: dead-lettered, never retried) and `{do:'ok'}`, which waits in
// the mailbox through the restart. Candidate: that pair to an actor that fails; baseline: the
// same pair to one that does not (both `ok`), so the ratio shows the restart's cost. Both
// under one supervisor: one_for_one, permanent, no backoff. Two ways of failing:
//   survives  the handler throws; its worker lives on (node of 2 threads). Measured from the
//             moment the handler threw (stamped in its error) to the ok reply; baseline from
//             the first turn to the second reply. Target p50 < 1 ms.
//   replaced  the handler ends its worker thread. A dead worker stamps nothing, so this is
//             measured from sending the failing ask (an upper bound). On the default pool of
//             2 threads the restarted actor runs on the surviving worker (warm: every worker
//             loads the node's modules while idle) while the pool replaces the dead one; the
//             kills are paced so the pool is whole again before each (target p50 < 50 ms). On a
//             node of 1 thread the restart must wait for the new worker to boot (informative).

import { ActorSystem, defineSupervisor } from 'autonomy-os';
import { compare, main, natsUrlFromArgs, withDeadline } from '../lib/harness.js';
import { percentile, row } from '../lib/report.js';

const SCENARIO = 'restart-latency';
const PAIRS_PER_ROUND = Number(process.env.BENCH_RESTARTS ?? 200);
/** Worker replacements: each costs a worker start, so few, interleaved, within a time budget. */
const WORKER_RESTARTS = Number(process.env.BENCH_WORKER_RESTARTS ?? 15);
const WORKER_RESTARTS_MIN = 5;
const WORKER_BUDGET_MS = 15_000;
const SURVIVES_TARGET_US = 1_000;
const REPLACED_TARGET_US = 50_000;
const ASK_TIMEOUT_MS = 10_000;
const MODULE = new URL('../actors/misbehave.mjs', import.meta.url);

/** A node with one supervisor over `flaky/a` (made to fail) and `steady/a` (the baseline), same module and spec. */
async function node(url, threads) {
  const system = await ActorSystem.start({ nats: url, threads, logLevel: 'fatal' });
  const child = (type) => ({ module: MODULE, type, key: 'a', restart: 'permanent', maxAttempts: 1 });
  await system.supervise(
    defineSupervisor({
      name: 'bench',
      strategy: 'one_for_one',
      // Restarts are the workload here: an intensity that never gives up.
      intensity: { maxRestarts: 1_000_000, withinMs: 1_000 },
      children: [child('flaky'), child('steady')],
    }),
  );
  return { system, flaky: system.ref('flaky/a'), steady: system.ref('steady/a') };
}

/** Wall-clock time in us, comparable with the `at` stamps of the worker threads. */
const wallUs = () => (performance.timeOrigin + performance.now()) * 1e3;

/** When the first turn ran (us): from the ok reply, or from the message of the error it threw. */
function firstTurnAt(first) {
  if (typeof first?.at === 'number') return first.at * 1e3;
  const m = /asked to throw at (\d+(?:\.\d+)?)/.exec(first?.message ?? '');
  return m === null ? undefined : Number(m[1]) * 1e3;
}

/**
 * One pair: `first` then `{do:'ok'}`, sent back to back. Resolves with the time (us) from
 * sending to the second reply (`total`) and from the first turn to it (`fromTurn`; NaN when
 * the first turn left no stamp). A failing first ask must fail with `code`, and the ok must
 * come from a fresh incarnation (handled 1).
 */
async function pair(ref, first, code) {
  const t0 = wallUs();
  const a = ref.ask({ do: first }, { timeoutMs: ASK_TIMEOUT_MS }).then(
    (reply) => ({ code: 'ok', stamp: firstTurnAt(reply) }),
    (err) => ({ code: err?.code ?? String(err), stamp: firstTurnAt(err) }),
  );
  const b = ref.ask({ do: 'ok' }, { timeoutMs: ASK_TIMEOUT_MS });
  const [one, reply] = await Promise.all([a, b]);
  const t2 = wallUs();
  const expected = code ?? 'ok';
  if (one.code !== expected) throw new Error(`${first}: expected ${expected}, got ${one.code}`);
  if (code !== undefined && reply?.handled !== 1) throw new Error(`${first}: the ok after it was not handled by a restarted actor (${JSON.stringify(reply)})`);
  return { total: t2 - t0, fromTurn: one.stamp === undefined ? NaN : t2 - one.stamp };
}

function stats(samples, key) {
  const us = Float64Array.from(samples, (s) => s[key]).sort();
  if (us.some(Number.isNaN)) throw new Error(`no ${key} in some samples`);
  return { p50: percentile(us, 50), p99: percentile(us, 99) };
}

async function pairs(n, ref, first, code) {
  const samples = [];
  for (let i = 0; i < n; i++) samples.push(await pair(ref, first, code));
  const turn = stats(samples, 'fromTurn');
  return { p50: turn.p50, p99: turn.p99, pairP50: stats(samples, 'total').p50 };
}

/** Lets a pool replace its dead worker (a worker boots in well under this here). Pacing, not synchronisation. */
const REPLACEMENT_PACE_MS = 1_500;

/** Worker replacements: steady and failing pairs interleaved, until `WORKER_RESTARTS` or the time budget. */
async function replaced(ref, steady, paceMs = 0) {
  const base = [];
  const cand = [];
  await pair(ref, 'exit', 'ERR_WORKER_DIED'); // warm-up: the first replacement
  await pair(steady, 'ok');
  const until = Date.now() + WORKER_BUDGET_MS + WORKER_RESTARTS * paceMs;
  while (cand.length < WORKER_RESTARTS && (cand.length < WORKER_RESTARTS_MIN || Date.now() < until)) {
    if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    base.push(await pair(steady, 'ok'));
    cand.push(await pair(ref, 'exit', 'ERR_WORKER_DIED'));
  }
  return { baseline: stats(base, 'total'), candidate: stats(cand, 'total'), n: cand.length };
}

main(async () => {
  const url = natsUrlFromArgs();

  const two = await node(url, 2);
  let survives;
  try {
    survives = await compare(
      {
        baseline: () => pairs(PAIRS_PER_ROUND, two.steady, 'ok'),
        candidate: () => pairs(PAIRS_PER_ROUND, two.flaky, 'throw', 'ERR_HANDLER_FAILED'),
      },
      { deadlineMs: 20_000 },
    );
  } finally {
    await two.system.shutdown({ timeoutMs: 5_000 });
  }

  const pool = await node(url, 2);
  let rep2;
  try {
    rep2 = await withDeadline(replaced(pool.flaky, pool.steady, REPLACEMENT_PACE_MS), WORKER_BUDGET_MS + WORKER_RESTARTS * REPLACEMENT_PACE_MS + 20_000, 'replaced (2 threads)');
  } finally {
    await pool.system.shutdown({ timeoutMs: 5_000 });
  }

  const one = await node(url, 1);
  let rep;
  try {
    rep = await withDeadline(replaced(one.flaky, one.steady), WORKER_BUDGET_MS + 20_000, 'replaced');
  } finally {
    await one.system.shutdown({ timeoutMs: 5_000 });
  }

  console.log(`# restart-latency: survives ${PAIRS_PER_ROUND} pairs x 3 rounds (median of rounds); replaced ${rep2.n} pairs on 2 threads (paced ${REPLACEMENT_PACE_MS} ms) and ${rep.n} on 1 thread, interleaved (p99 of so few is their max)`);
  console.log(row({ scenario: SCENARIO, metric: 'survives_p50', baseline: survives.baseline.p50, candidate: survives.candidate.p50, unit: 'us', target: `<${SURVIVES_TARGET_US}us`, ok: survives.candidate.p50 < SURVIVES_TARGET_US }));
  console.log(row({ scenario: SCENARIO, metric: 'survives_p99', baseline: survives.baseline.p99, candidate: survives.candidate.p99, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'survives_pair_p50', baseline: survives.baseline.pairP50, candidate: survives.candidate.pairP50, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'replaced_p50', baseline: rep2.baseline.p50, candidate: rep2.candidate.p50, unit: 'us', target: `<${REPLACED_TARGET_US}us`, ok: rep2.candidate.p50 < REPLACED_TARGET_US }));
  console.log(row({ scenario: SCENARIO, metric: 'replaced_p99', baseline: rep2.baseline.p99, candidate: rep2.candidate.p99, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'replaced_1thread_p50', baseline: rep.baseline.p50, candidate: rep.candidate.p50, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'replaced_1thread_p99', baseline: rep.baseline.p99, candidate: rep.candidate.p99, unit: 'us' }));
});
