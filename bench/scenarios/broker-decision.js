// broker-decision: the cost of one broker decision, in the kernel's process, no NATS and no
// threads (the --nats argument is accepted and not used). Under a realistic policy
// (bench/actors/relay-policy.mjs: several roles, wildcard grants, deny lists, a rate limit,
// budgets, approval rules):
//   cached_check: Policy.check of the same (type, action, target) again and again, the
//     common case (an actor talks to the same few subjects); target p99 < 5 us.
//   cached_decide: Broker.decide of the same target: the check plus the suspension lookup,
//     the rate-limit bucket, the budget scan and the decision record; target p99 < 5 us.
//   uncached_check / uncached_decide: a new subject every call (the policy compiles the
//     decision: subject syntax, deny and allow lists, reserved areas, approvals); informative.
// Baseline: a Map.get of a key of the same shape as the policy cache's, timed the same way.
//
// Timing: process.hrtime.bigint costs ~30 ns a pair here, a sizeable part of a ~100 ns call,
// so calls are timed in groups of GROUP back to back and each group's time / GROUP is one
// sample; p50 and p99 are over the samples (a pause that hits one call shows in its group,
// spread over GROUP calls). Each side gets a warm-up round, then three measured rounds,
// interleaved, and the figure is the median (lib/harness.js compare).

import { parsePolicy } from 'autonomy-os';
import { Broker, Policy } from 'autonomy-os/internal';
import { realisticPolicy } from '../actors/relay-policy.mjs';
import { compare, main } from '../lib/harness.js';
import { percentile, row } from '../lib/report.js';

const SCENARIO = 'broker-decision';
const GROUP = 10;
const SAMPLES = Number(process.env.BENCH_DECISION_SAMPLES ?? 20_000);
const MAX_P99_US = 5;
const NS = 'aos';

/** Runs `call(i)` GROUP times per sample, SAMPLES samples; returns p50 and p99 per call in us. */
function timeGroups(call) {
  const us = new Float64Array(SAMPLES);
  let i = 0;
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = process.hrtime.bigint();
    for (let g = 0; g < GROUP; g++) call(i++);
    us[s] = Number(process.hrtime.bigint() - t0) / 1e3 / GROUP;
  }
  us.sort();
  return { p50: percentile(us, 50), p99: percentile(us, 99) };
}

main(async () => {
  const doc = parsePolicy(realisticPolicy(NS));
  const policy = new Policy(doc, NS);
  const records = [];
  const broker = new Broker({
    nodeId: 'bench',
    clock: { now: () => Date.now(), setTimeout: () => ({}), clearTimeout: () => {} },
    policy,
    // the kernel hands records to the trace batcher, which queues them; keep the last few likewise
    record: (r) => {
      records.push(r);
      if (records.length >= 512) records.length = 0;
    },
  });
  const relay = { id: 'relay/1', type: 'relay' };
  const target = `${NS}.actor.echo.1`;

  // Every side must decide what it is meant to before it is timed.
  const first = broker.decide(relay, 'ask', target);
  if (!first.allow || !policy.check('relay', 'ask', target).allow) throw new Error(`the bench policy denies ${target}: ${first.rule}`);
  if (broker.decide(relay, 'ask', `${NS}.actor.echo.admin`).allow) throw new Error('the bench policy allows echo/admin');
  if (!broker.decide(relay, 'ask', `${NS}.actor.echo.new0`).allow) throw new Error('the bench policy denies echo/new0');

  const map = new Map([[`relay\u0000ask\u0000${target}`, first]]);
  let sink = 0; // consumed after timing so no call is optimised away
  let fresh = 0; // subjects never seen before, across all rounds
  const r = await compare({
    mapGet: async () => timeGroups(() => (sink += map.get(`relay\u0000ask\u0000${target}`).allow ? 1 : 0)),
    cachedCheck: async () => timeGroups(() => (sink += policy.check('relay', 'ask', target).allow ? 1 : 0)),
    cachedDecide: async () => timeGroups(() => (sink += broker.decide(relay, 'ask', target).allow ? 1 : 0)),
    uncachedCheck: async () => timeGroups(() => (sink += policy.check('relay', 'ask', `${NS}.actor.echo.n${fresh++}`).allow ? 1 : 0)),
    uncachedDecide: async () => timeGroups(() => (sink += broker.decide(relay, 'ask', `${NS}.actor.echo.n${fresh++}`).allow ? 1 : 0)),
  });
  if (sink === 0) throw new Error('no decision allowed');
  // Nothing above may have been rate-limited or denied: the figures are of allowed decisions.
  if (records.some((x) => !x.allow)) throw new Error(`a timed decision was denied: ${JSON.stringify(records.find((x) => !x.allow))}`);

  const ok = (v) => v < MAX_P99_US;
  const target99 = `<${MAX_P99_US}us`;
  console.log(row({ scenario: SCENARIO, metric: 'cached_check_p50', baseline: r.mapGet.p50, candidate: r.cachedCheck.p50, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'cached_check_p99', baseline: r.mapGet.p99, candidate: r.cachedCheck.p99, unit: 'us', target: target99, ok: ok(r.cachedCheck.p99) }));
  console.log(row({ scenario: SCENARIO, metric: 'cached_decide_p50', baseline: r.mapGet.p50, candidate: r.cachedDecide.p50, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'cached_decide_p99', baseline: r.mapGet.p99, candidate: r.cachedDecide.p99, unit: 'us', target: target99, ok: ok(r.cachedDecide.p99) }));
  console.log(row({ scenario: SCENARIO, metric: 'uncached_check_p50', baseline: r.mapGet.p50, candidate: r.uncachedCheck.p50, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'uncached_check_p99', baseline: r.mapGet.p99, candidate: r.uncachedCheck.p99, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'uncached_decide_p50', baseline: r.mapGet.p50, candidate: r.uncachedDecide.p50, unit: 'us' }));
  console.log(row({ scenario: SCENARIO, metric: 'uncached_decide_p99', baseline: r.mapGet.p99, candidate: r.uncachedDecide.p99, unit: 'us' }));
});
