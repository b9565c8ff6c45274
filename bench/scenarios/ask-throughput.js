// ask-throughput: 1,000 asks in flight. Baseline: the plain muxed request/reply loop on
// nats.js against an echo responder (the physical limit of one connection). Candidates:
// ref.ask() to an echo actor on the node (the target row; a local ask skips NATS), the same
// ask from a second node, which must cross NATS (informative), and an outside JSON client
// (the same plain loop) asking the actor's task subject, the "any NATS client" path.

import { ActorSystem } from 'autonomy-os';
import { connect } from 'nats';
import { compare, main, natsUrlFromArgs } from '../lib/harness.js';
import { throughput } from '../lib/measure.js';
import { MuxClient, echoResponder } from '../lib/mux-client.js';
import { row } from '../lib/report.js';

const SCENARIO = 'ask-throughput';
const IN_FLIGHT = 1_000;
const ASKS_PER_ROUND = Number(process.env.BENCH_ASKS ?? 20_000);
const TARGET = 0.4;
const RAW_SUBJECT = 'bench.raw.echo';
const TASK_SUBJECT = 'aos.task.echo';

main(async () => {
  const url = natsUrlFromArgs();
  const system = await ActorSystem.start({ nats: url, threads: 2, logLevel: 'warn' });
  // A second node with one idle worker: its refs reach the echo actor over NATS only.
  const peer = await ActorSystem.start({ nats: url, threads: 1, logLevel: 'warn' });
  const rawConn = await connect({ servers: url, name: 'bench-raw' });
  const jsonConn = await connect({ servers: url, name: 'bench-json-client' });
  try {
    const echo = await system.spawn(new URL('../actors/echo.mjs', import.meta.url), { type: 'echo', key: 'bench', tasks: [TASK_SUBJECT] });
    const remote = peer.ref(echo.id);
    const value = { text: 'x'.repeat(48) };
    const json = new TextEncoder().encode(JSON.stringify(value));

    const raw = new MuxClient(rawConn);
    echoResponder(rawConn, RAW_SUBJECT);
    await rawConn.flush();
    const outside = new MuxClient(jsonConn);
    await jsonConn.flush();

    // Each path answers with the echo before anything is timed.
    const decoder = new TextDecoder();
    const sameAsSent = (got, path) => {
      if (JSON.stringify(got) !== JSON.stringify(value)) throw new Error(`${path} echoed ${JSON.stringify(got)}`);
    };
    sameAsSent(await echo.ask(value), 'ref.ask');
    sameAsSent(await remote.ask(value), 'ref.ask from the other node');
    sameAsSent(JSON.parse(decoder.decode((await outside.request(TASK_SUBJECT, json)).data)), 'the task subject');
    sameAsSent(JSON.parse(decoder.decode((await raw.request(RAW_SUBJECT, json)).data)), 'the raw responder');

    const r = await compare({
      baseline: async () => {
        const rate = await throughput(() => raw.request(RAW_SUBJECT, json), ASKS_PER_ROUND, IN_FLIGHT);
        raw.assertNoErrors('baseline');
        return rate;
      },
      runtime: async () => {
        const rate = await throughput(() => echo.ask(value), ASKS_PER_ROUND, IN_FLIGHT);
        await system.whenIdle();
        return rate;
      },
      viaNats: async () => {
        const rate = await throughput(() => remote.ask(value), ASKS_PER_ROUND, IN_FLIGHT);
        await system.whenIdle();
        return rate;
      },
      jsonTask: async () => {
        const rate = await throughput(() => outside.request(TASK_SUBJECT, json), ASKS_PER_ROUND, IN_FLIGHT);
        outside.assertNoErrors('json task client');
        await system.whenIdle();
        return rate;
      },
    });

    const ok = r.runtime / r.baseline >= TARGET;
    console.log(row({ scenario: SCENARIO, metric: 'ref_ask', baseline: r.baseline, candidate: r.runtime, unit: 'asks/s', target: `>=${TARGET}`, ok }));
    console.log(row({ scenario: SCENARIO, metric: 'ref_ask_other_node', baseline: r.baseline, candidate: r.viaNats, unit: 'asks/s' }));
    console.log(row({ scenario: SCENARIO, metric: 'json_task_client', baseline: r.baseline, candidate: r.jsonTask, unit: 'asks/s' }));
  } finally {
    await rawConn.close();
    await jsonConn.close();
    await peer.shutdown({ timeoutMs: 5_000 });
    await system.shutdown({ timeoutMs: 5_000 });
  }
});
