// tell-throughput: actor-to-actor tells. Candidate: a producer actor, told K times, tells a
// consumer actor TELLS_PER_TURN times per turn; the consumer publishes once it has counted
// them all. Baseline: raw nats.js pub/sub, a publisher publishing as many messages of the
// same size to a subject a subscriber counts (same process, its own connection each).

import { ActorSystem } from 'autonomy-os';
import { connect } from 'nats';
import { compare, main, natsUrlFromArgs, withDeadline } from '../lib/harness.js';
import { row } from '../lib/report.js';

const SCENARIO = 'tell-throughput';
const MESSAGES = Number(process.env.BENCH_TELLS ?? 100_000);
const TELLS_PER_TURN = 100;
const RAW_SUBJECT = 'bench.raw.tell';
const DONE_SUBJECT = 'aos.evt.bench.tell-done'; // inside the namespace: the development policy grants events
const PAD = 'x'.repeat(40);

/** Resolves with the next message on `subject` (one subscription, taken once). */
function nextOn(nc, subject) {
  return new Promise((resolve) => nc.subscribe(subject, { max: 1, callback: (_err, msg) => resolve(msg) }));
}

main(async () => {
  if (MESSAGES % TELLS_PER_TURN !== 0) throw new Error(`BENCH_TELLS must be a multiple of ${TELLS_PER_TURN}`);
  const url = natsUrlFromArgs();
  const system = await ActorSystem.start({ nats: url, threads: 2, logLevel: 'warn' });
  const pubConn = await connect({ servers: url, name: 'bench-pub' });
  const subConn = await connect({ servers: url, name: 'bench-sub' });
  try {
    const producer = await system.spawn(new URL('../actors/producer.mjs', import.meta.url), { type: 'producer', key: 'bench' });
    // Tells arrive faster than one consumer turns them over: room for a whole round.
    const consumer = await system.spawn(new URL('../actors/consumer.mjs', import.meta.url), {
      type: 'consumer',
      key: 'bench',
      mailbox: { capacity: MESSAGES + 16 },
    });
    const payload = new TextEncoder().encode(JSON.stringify({ i: MESSAGES, pad: PAD }));

    let counted = 0;
    let onAll = () => {};
    subConn.subscribe(RAW_SUBJECT, {
      callback: () => {
        if (++counted === MESSAGES) onAll();
      },
    });
    await subConn.flush();

    const r = await compare({
      baseline: async () => {
        counted = 0;
        const all = new Promise((resolve) => (onAll = resolve));
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < MESSAGES / TELLS_PER_TURN; k++) {
          for (let j = 0; j < TELLS_PER_TURN; j++) pubConn.publish(RAW_SUBJECT, payload);
        }
        await all;
        return MESSAGES / (Number(process.hrtime.bigint() - t0) / 1e9);
      },
      runtime: async () => {
        await consumer.ask({ expect: MESSAGES, subject: DONE_SUBJECT });
        const done = nextOn(subConn, DONE_SUBJECT);
        await subConn.flush();
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < MESSAGES / TELLS_PER_TURN; k++) producer.tell({ to: consumer.id, n: TELLS_PER_TURN, pad: PAD });
        await done;
        const rate = MESSAGES / (Number(process.hrtime.bigint() - t0) / 1e9);
        await withDeadline(system.whenIdle(), 10_000, 'whenIdle after a tell round');
        if (system.deadLetterCount > 0) throw new Error(`${system.deadLetterCount} dead letters during the tell rounds`);
        return rate;
      },
    });

    console.log(row({ scenario: SCENARIO, metric: 'tells', baseline: r.baseline, candidate: r.runtime, unit: 'msgs/s' }));
  } finally {
    await pubConn.close();
    await subConn.close();
    await system.shutdown({ timeoutMs: 5_000 });
  }
});
