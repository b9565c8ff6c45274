// ask-latency: one ask at a time. Baseline: the plain muxed request/reply loop on nats.js
// against an echo responder; candidate: ref.ask() to an echo actor on the node. The target
// is an added cost: candidate p50 at most 150 us above the baseline's. A local ask skips
// NATS, so the same ask from a second node, which must cross it, is reported beside it.

import { ActorSystem } from 'autonomy-os';
import { connect } from 'nats';
import { compare, main, natsUrlFromArgs } from '../lib/harness.js';
import { latency } from '../lib/measure.js';
import { MuxClient, echoResponder } from '../lib/mux-client.js';
import { row } from '../lib/report.js';

const SCENARIO = 'ask-latency';
const ASKS_PER_ROUND = Number(process.env.BENCH_LATENCY_ASKS ?? 3_000);
const MAX_ADDED_P50_US = 150;
const RAW_SUBJECT = 'bench.raw.echo';

main(async () => {
  const url = natsUrlFromArgs();
  const system = await ActorSystem.start({ nats: url, threads: 2, logLevel: 'warn' });
  const peer = await ActorSystem.start({ nats: url, threads: 1, logLevel: 'warn' });
  const rawConn = await connect({ servers: url, name: 'bench-raw' });
  try {
    const echo = await system.spawn(new URL('../actors/echo.mjs', import.meta.url), { type: 'echo', key: 'bench' });
    const remote = peer.ref(echo.id);
    const value = { text: 'x'.repeat(48) };
    const json = new TextEncoder().encode(JSON.stringify(value));
    const raw = new MuxClient(rawConn);
    echoResponder(rawConn, RAW_SUBJECT);
    await rawConn.flush();

    const r = await compare({
      baseline: async () => {
        const l = await latency(() => raw.request(RAW_SUBJECT, json), ASKS_PER_ROUND);
        raw.assertNoErrors('baseline');
        return l;
      },
      runtime: () => latency(() => echo.ask(value), ASKS_PER_ROUND),
      viaNats: () => latency(() => remote.ask(value), ASKS_PER_ROUND),
    });

    const ok = r.runtime.p50 - r.baseline.p50 <= MAX_ADDED_P50_US;
    console.log(row({ scenario: SCENARIO, metric: 'p50', baseline: r.baseline.p50, candidate: r.runtime.p50, unit: 'us', target: `<=+${MAX_ADDED_P50_US}us`, ok }));
    console.log(row({ scenario: SCENARIO, metric: 'p99', baseline: r.baseline.p99, candidate: r.runtime.p99, unit: 'us' }));
    console.log(row({ scenario: SCENARIO, metric: 'p50_other_node', baseline: r.baseline.p50, candidate: r.viaNats.p50, unit: 'us' }));
    console.log(row({ scenario: SCENARIO, metric: 'p99_other_node', baseline: r.baseline.p99, candidate: r.viaNats.p99, unit: 'us' }));
  } finally {
    await rawConn.close();
    await peer.shutdown({ timeoutMs: 5_000 });
    await system.shutdown({ timeoutMs: 5_000 });
  }
});
