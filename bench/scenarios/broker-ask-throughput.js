// broker-ask-throughput: what the capability broker costs a busy node. Requests go to relay
// actors (bench/actors/relay.mjs) that each ask an echo actor and reply, so every request
// costs at least one broker decision (the relay's ask: checked in the worker, decided and
// recorded by the kernel). Baseline: the same node under an allow-all policy (one role, '>'
// everywhere, no limits); candidate: a realistic policy (several roles, wildcard grants,
// deny lists, a rate limit too high to bite, budgets and approval rules that are evaluated
// but do not cover asks). One node; the policy is swapped with applyPolicy before each
// round, so both sides run on the same actors, workers and connection, interleaved over
// more rounds than the other scenarios (see below), and the figure is each side's median.

import { ActorSystem } from 'autonomy-os';
import { connect } from 'nats';
import { realisticPolicy, allowAllPolicy } from '../actors/relay-policy.mjs';
import { main, natsUrlFromArgs, withDeadline } from '../lib/harness.js';
import { throughput } from '../lib/measure.js';
import { median, row } from '../lib/report.js';

const SCENARIO = 'broker-ask-throughput';
const IN_FLIGHT = 1_000;
const ASKS_PER_ROUND = Number(process.env.BENCH_BROKER_ASKS ?? 10_000);
const WARMUP_ROUNDS = 2;
const MEASURED_ROUNDS = Number(process.env.BENCH_BROKER_ROUNDS ?? 9);
// A relay takes one turn at a time and its turn waits for its echo's answer, so one relay
// serves one request per round trip; several pairs keep both worker threads busy.
const RELAYS = Number(process.env.BENCH_RELAYS ?? 64);
const TARGET = 0.95;
// Made once per run: the bench's nats-server has no JetStream to keep a cluster key in.
const CLUSTER_KEY = `bench-${process.pid}-${Date.now()}-cluster-key`;

main(async () => {
  const url = natsUrlFromArgs();
  const namespace = `benchbroker${process.pid}`;
  const realistic = realisticPolicy(namespace);
  const allowAll = allowAllPolicy();
  const system = await ActorSystem.start({ nats: url, namespace, threads: 2, logLevel: 'warn', logTo: 'stderr', policy: realistic, clusterKey: CLUSTER_KEY });
  const traceConn = await connect({ servers: url, name: 'bench-broker-trace' });
  try {
    const actorUrl = (name) => new URL(`../actors/${name}.mjs`, import.meta.url);
    const relays = [];
    for (let i = 1; i <= RELAYS; i++) {
      await system.spawn(actorUrl('echo'), { type: 'echo', key: String(i) });
      relays.push(await system.spawn(actorUrl('relay'), { type: 'relay', key: String(i) }));
    }
    const value = { text: 'x'.repeat(48) };
    let next = 0;
    const ask = () => relays[next++ % RELAYS].ask(value);

    /** Applies a policy and waits until this node runs it (at once without JetStream, through the KV watch with it). */
    const use = async (doc) => {
      const { version } = await system.applyPolicy(doc);
      await withDeadline(
        (async () => {
          while (system.governanceStatus.policy.version !== version) await new Promise((r) => setTimeout(r, 1));
        })(),
        5_000,
        'policy swap',
      );
      return version;
    };

    // Before anything is timed: each side answers with the echo, and each request is decided
    // by the broker under the policy in force (the trace holds one allowed 'ask' decision
    // per request, citing that version); the realistic policy really denies what it should.
    const records = [];
    const traceSub = traceConn.subscribe(`${namespace}.trace.>`, {
      callback: (err, msg) => {
        if (err === null) for (const r of JSON.parse(new TextDecoder().decode(msg.data)).records ?? []) if (r.type === 'decision') records.push(r);
      },
    });
    await traceConn.flush();
    const PROBES = 200;
    for (const doc of [realistic, allowAll]) {
      const version = await use(doc);
      await system.whenIdle();
      records.length = 0;
      const got = await Promise.all(Array.from({ length: PROBES }, ask));
      if (got.some((g) => JSON.stringify(g) !== JSON.stringify(value))) throw new Error(`${doc.name}: a relay answered ${JSON.stringify(got.find((g) => JSON.stringify(g) !== JSON.stringify(value)))}`);
      await withDeadline(
        (async () => {
          while (records.filter((r) => r.action === 'ask').length < PROBES) await new Promise((r) => setTimeout(r, 5));
        })(),
        5_000,
        `${doc.name}: decision records`,
      );
      const asks = records.filter((r) => r.action === 'ask');
      if (asks.some((r) => !r.allow || r.policy !== version)) throw new Error(`${doc.name}: unexpected decision ${JSON.stringify(asks.find((r) => !r.allow || r.policy !== version))}`);
      if (doc === realistic) {
        const denied = await relays[0].ask({ text: 'x', to: 'echo/admin' }).then(
          () => undefined,
          (err) => err,
        );
        if (denied?.code !== 'ERR_DENIED') throw new Error(`the realistic policy let relay/1 ask echo/admin (${denied?.code ?? 'allowed'})`);
        // the denial is recorded too (wait for it, so it does not land in the next side's count)
        await withDeadline(
          (async () => {
            while (!records.some((r) => r.action === 'ask' && !r.allow && r.reason === 'denied')) await new Promise((r) => setTimeout(r, 5));
          })(),
          5_000,
          'the denied decision record',
        );
      }
    }
    traceSub.unsubscribe();
    await traceConn.flush();

    const side = async (doc) => {
      await use(doc);
      await system.whenIdle();
      const rate = await withDeadline(throughput(ask, ASKS_PER_ROUND, IN_FLIGHT), 30_000, `${doc.name} round`);
      await system.whenIdle();
      return rate;
    };
    // Background load moves a 2-core machine's figures by ±20 % between rounds, so both sides
    // run in every round, in alternating order (A B, B A, ...), and each side's figure is the
    // median of its measured rounds.
    const samples = { allowAll: [], broker: [] };
    for (let round = 0; round < WARMUP_ROUNDS + MEASURED_ROUNDS; round++) {
      const order = round % 2 === 0 ? ['allowAll', 'broker'] : ['broker', 'allowAll'];
      for (const name of order) {
        const rate = await side(name === 'broker' ? realistic : allowAll);
        if (round >= WARMUP_ROUNDS) samples[name].push(rate);
      }
    }
    const r = { allowAll: median(samples.allowAll), broker: median(samples.broker) };
    const fmt = (xs) => xs.map((x) => Math.round(x)).join(' ');
    console.log(`# ${SCENARIO} rounds (asks/s): allow-all ${fmt(samples.allowAll)}; broker ${fmt(samples.broker)}`);

    const ok = r.broker / r.allowAll >= TARGET;
    console.log(row({ scenario: SCENARIO, metric: 'relay_ask', baseline: r.allowAll, candidate: r.broker, unit: 'asks/s', target: `>=${TARGET}`, ok }));
  } finally {
    await traceConn.close();
    await system.shutdown({ timeoutMs: 5_000 });
  }
});
