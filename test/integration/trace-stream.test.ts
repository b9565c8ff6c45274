// The trace log in a JetStream stream, on the shared test server: two nodes, a tracer each, one
// stream. Their appends race and still make ONE chain that verifies, with every record once; a
// batch re-sent to a restarted tracer is stored once (Nats-Msg-Id, and past JetStream's window the
// node's record of the stream's batches); a deleted message is reported
// by verify (and by `aos trace verify --stream`), and a broken stream is refused as a file log is;
// a stream with limits is checked from the oldest entry its limits left.

import { randomBytes } from 'node:crypto';
import { inject, describe, expect, test, vi } from 'vitest';
import { StorageType, type NatsConnection, type StreamConfig } from 'nats';
import { startTracer, type ActorSystem } from 'autonomy-os';
import {
  answerQuery,
  answerStreamQuery,
  encodeTraceBatch,
  ERROR_HEADER,
  isBatchMark,
  readStream,
  recordsBatch,
  recordsOfEntry,
  StreamLog,
  streamSubject,
  verifyStreamContents,
  type EnvelopeRecord,
  type TraceQuery,
  type TraceRecord,
} from 'autonomy-os/internal';
import { rawClient } from '../helpers/nats.js';
import { CHAIN, chainRecords, OTHER_CHAIN, recordsInput } from '../helpers/trace-chain.js';
import { runAos } from '../helpers/processes.js';
import { errorOf, fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

const uniqueStream = () => `T${randomBytes(5).toString('hex')}`;

async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(stream).catch(() => undefined);
}

/** Every node's records acknowledged by a tracer. */
async function drained(...systems: ActorSystem[]): Promise<void> {
  for (const s of systems) await s.whenIdle();
  await vi.waitFor(() => expect(systems.map((s) => s.traceBacklog)).toEqual(systems.map(() => 0)), { timeout: 15_000, interval: 50 });
}

function recordsOf(entries: { text: string }[]): TraceRecord[] {
  const out: TraceRecord[] = [];
  for (const e of entries) recordsOfEntry(e.text, out);
  return out;
}

interface Ack {
  ok: boolean;
  appended: number;
  duplicate?: boolean;
}

/** Sends batch `n` of a made-up node `fake` (one test record) as a kernel would, and returns the tracer's answer. */
function fakeSender(nc: NatsConnection, ns: string): (n: number) => Promise<Ack> {
  return async (n) => {
    const batch = recordsBatch('fake', n, [{ type: 'test', at: n, node: 'fake', n }]);
    const msg = await nc.request(`${ns}.trace.fake`, encodeTraceBatch(batch), { timeout: 10_000 });
    expect(msg.headers?.get(ERROR_HEADER) ?? '').toBe('');
    return msg.json<Ack>();
  };
}

/** A node whose tracer appends to a stream made first as startTracer makes it, with `config` added; and a sender of made-up batches. */
async function tracerOnStream(nc: NatsConnection, stream: string, config: Partial<StreamConfig>) {
  const system = await startSystem({ threads: 2 });
  const ns = system.subjects.prefix;
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects: [streamSubject(ns, stream)], storage: StorageType.File, ...config });
  await startTracer(system, { stream });
  return { system, ns, jsm, send: fakeSender(nc, ns) };
}

describe('trace stream', () => {
  test('trace stream - two nodes, a tracer each, one stream: their appends make one chain that verifies, every record once', async () => {
    const ns = uniqueNamespace();
    const stream = uniqueStream();
    const nc = await rawClient();
    try {
      const a = await startSystem({ namespace: ns, threads: 2 });
      const b = await startSystem({ namespace: ns, threads: 2 });
      const ea = await a.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
      const eb = await b.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' });
      // Traffic on both nodes at once, and across them.
      const traffic = async (round: number): Promise<void> => {
        const asks: Promise<unknown>[] = [];
        for (let i = 0; i < 100; i++) asks.push(ea.ask({ text: `a${round}.${i}` }), eb.ask({ text: `b${round}.${i}` }), a.ref(eb.id).ask({ text: `x${round}.${i}` }));
        await Promise.all(asks);
        await drained(a, b);
      };
      // The tracers share the batches of both nodes (one queue group), and their appends race.
      // So that each surely appends, each runs alone for a round; then both share a round.
      const tracerA = await startTracer(a, { stream });
      await traffic(1);
      await startTracer(b, { stream });
      // Its supervisor stopped (a tracer stopped on its own is restarted: it is a permanent child).
      await tracerA.stop();
      await traffic(2);
      await a.spawn(new URL('../../dist/actors/tracer.js', import.meta.url), { type: 'tracer', key: 'again', subscribe: [`${ns}.trace.>`], config: { stream } });
      await traffic(3);

      const contents = await readStream(nc, stream);
      expect(verifyStreamContents(contents)).toMatchObject({ ok: true, stream });
      // An entry's seq is its stream sequence: one chain across the two tracers.
      const entries = contents.entries.map((e) => ({ seq: e.seq, entry: JSON.parse(e.text) as { seq: number; tracer?: string } }));
      expect(entries.every((e) => e.seq === e.entry.seq)).toBe(true);
      const tracers = new Set(entries.map((e) => e.entry.tracer).filter((t) => t !== undefined));
      expect(tracers).toContain(`tracer/${a.nodeId}`);
      expect(tracers).toContain(`tracer/${b.nodeId}`);
      expect([...tracers].filter((t) => ![`tracer/${a.nodeId}`, `tracer/${b.nodeId}`, 'tracer/again'].includes(t!))).toEqual([]);

      const records = recordsOf(contents.entries);
      const batches = records.filter(isBatchMark).map((m) => `${m.node} ${m.batch}`);
      expect(new Set(batches).size).toBe(batches.length);
      const received = records.filter((r): r is EnvelopeRecord => r.type === 'envelope' && r.event === 'received' && r.actor.startsWith('echo/'));
      expect(received).toHaveLength(900);
      expect(new Set(received.map((r) => r.id)).size).toBe(900);
      expect(received.filter((r) => r.actor === eb.id)).toHaveLength(600);
      // A tracer's appends are trace traffic: not traced (each would make another batch, for ever).
      expect(records.filter((r) => r.type === 'decision' && (r as { target?: string }).target === 'trace.append')).toEqual([]);
    } finally {
      await deleteStream(nc, stream);
    }
  });

  test('trace stream - a batch re-sent to a restarted tracer is stored once; a deleted message is reported by verify, and the stream refused', async () => {
    const stream = uniqueStream();
    const nc = await rawClient();
    try {
      const system = await startSystem({ threads: 2 });
      const ns = system.subjects.prefix;
      await startTracer(system, { stream });
      const send = fakeSender(nc, ns);
      expect(await send(1)).toEqual({ ok: true, appended: 1 });
      expect(await send(1)).toEqual({ ok: true, appended: 0, duplicate: true }); // the tracer's own record of it
      await system.stop(`tracer/${system.nodeId}`);
      await system.spawn(new URL('../../dist/actors/tracer.js', import.meta.url), { type: 'tracer', key: 'again', subscribe: [`${ns}.trace.>`], config: { stream } });
      expect(await send(1)).toEqual({ ok: true, appended: 0, duplicate: true }); // a new tracer: JetStream's
      expect(await send(2)).toEqual({ ok: true, appended: 1 });
      await send(3);
      await drained(system);
      const fake = (await readStream(nc, stream)).entries.filter((e) => e.text.includes('"node":"fake"'));
      expect(fake.map((e) => (JSON.parse(e.text) as { batch: { batch: number } }).batch.batch)).toEqual([1, 2, 3]);

      // The tracer answers queries over the stream (show), through its tool.
      const show = await nc.request(`${ns}.ctl.all.trace`, new TextEncoder().encode(JSON.stringify({ kind: 'tail', type: 'test', limit: 10 })), { timeout: 10_000 });
      expect((show.json<{ records: { n: number }[] }>().records ?? []).map((r) => r.n)).toEqual([1, 2, 3]);

      const url = inject('natsUrl');
      const ok = await runAos(['trace', 'verify', '--stream', stream, '--nats', url]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^ok: \d+ records in \d+ batches, \d+ checkpoints?, head [0-9a-f]{12} \(seq \d+\)\n$/);

      // Delete the message of batch 2: verify names the gap at the next message.
      const deleted = fake[1]!.seq;
      await (await nc.jetstreamManager()).streams.deleteMessage(stream, deleted);
      const report = verifyStreamContents(await readStream(nc, stream));
      expect(report).toMatchObject({ ok: false, problem: { kind: 'deleted', line: deleted + 1, seq: deleted + 1 } });
      const bad = await runAos(['trace', 'verify', '--stream', stream, '--nats', url]);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(new RegExp(`^FAIL: deleted at stream sequence ${deleted + 1} \\(seq ${deleted + 1}.*\\): seq ${deleted} is missing before it`));

      // A node refuses to trace to a broken stream.
      const other = await startSystem({ namespace: ns });
      expect((await errorOf(() => startTracer(other, { stream }))).code).toBe('ERR_TRACE_LOG');
    } finally {
      await deleteStream(nc, stream);
    }
  });

  test('trace stream - a stream with limits loses its oldest messages by them: verify checks it from the oldest entry left, and a tracer opens it and goes on', async () => {
    const stream = uniqueStream();
    const nc = await rawClient();
    try {
      // As an operator would limit it (`nats stream edit --max-msgs 3`).
      const { system, ns, jsm, send } = await tracerOnStream(nc, stream, { max_msgs: 3 });
      for (let n = 1; n <= 6; n++) expect(await send(n)).toEqual({ ok: true, appended: 1 });
      await drained(system);
      const limited = await readStream(nc, stream);
      expect(limited.entries).toHaveLength(3);
      const oldest = limited.entries[0]!.seq;
      expect(oldest).toBeGreaterThan(1);
      expect(verifyStreamContents(limited)).toMatchObject({ ok: true, startsAt: oldest, tail: { seq: limited.lastSeq } });
      // The same messages in a stream without limits: its oldest ones were deleted.
      expect(verifyStreamContents({ ...limited, limited: false })).toMatchObject({ ok: false, problem: { kind: 'deleted', line: oldest, seq: oldest } });
      const url = inject('natsUrl');
      const ok = await runAos(['trace', 'verify', '--stream', stream, '--nats', url]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(new RegExp(`^ok: \\d+ records in 3 batches, 0 checkpoints, head [0-9a-f]{12} \\(seq ${limited.lastSeq}\\) \\(from seq ${oldest}: the stream's limits removed the entries before it\\)\n$`));

      // Every message gone by the limits (an age limit passed; purged here): a new node's tracer
      // opens the stream, and its next entry takes the chain up.
      await jsm.streams.purge(stream);
      await system.shutdown();
      const other = await startSystem({ threads: 2, namespace: ns });
      await startTracer(other, { stream });
      expect(await send(7)).toEqual({ ok: true, appended: 1 });
      await drained(other);
      const after = await readStream(nc, stream);
      expect(after.entries.length).toBeGreaterThan(0);
      expect(after.entries[0]!.seq).toBe(limited.lastSeq + 1);
      expect(verifyStreamContents(after)).toMatchObject({ ok: true, startsAt: limited.lastSeq + 1, tail: { seq: after.lastSeq } });
    } finally {
      await deleteStream(nc, stream);
    }
  });

  test('trace stream - show, stats and tail --stream read the stream; a stream of other subjects is not a trace stream', async () => {
    const stream = uniqueStream();
    const nc = await rawClient();
    try {
      const system = await startSystem();
      await startTracer(system, { stream });
      const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e' });
      const reply = await echo.ask<{ correlationId: string }>({ text: 'hi' });
      expect((await errorOf(() => echo.ask({ nope: 1 }))).code).toBe('ERR_INPUT_SCHEMA');
      await drained(system);
      const url = inject('natsUrl');
      const show = await runAos(['trace', 'show', reply.correlationId, '--stream', stream, '--nats', url, '--json']);
      expect(show.code, show.stderr).toBe(0);
      expect(JSON.parse(show.stdout)).toMatchObject({ correlationId: reply.correlationId, roots: [expect.objectContaining({ to: echo.id, outcome: 'ok' })] });
      const stats = await runAos(['trace', 'stats', '--stream', stream, '--nats', url, '--json']);
      expect(JSON.parse(stats.stdout)).toContainEqual(expect.objectContaining({ actor: echo.id, turns: 1 }));
      const tail = await runAos(['trace', 'tail', '--stream', stream, '--nats', url, '--actor', echo.id, '--type', 'turn.finished', '--json']);
      expect(tail.stdout.trim().split('\n').map((l) => JSON.parse(l) as { actor: string })).toEqual([expect.objectContaining({ actor: echo.id, correlationId: reply.correlationId })]);
      const abbreviated = await runAos(['trace', 'show', reply.correlationId.slice(0, 12), '--stream', stream, '--nats', url, '--json']);
      expect(JSON.parse(abbreviated.stdout)).toEqual(JSON.parse(show.stdout));
      const denied = await runAos(['trace', 'tail', '--stream', stream, '--nats', url, '--denied', '--json']);
      const refused = denied.stdout.trim().split('\n').map((l) => JSON.parse(l) as { outcome?: string; type: string });
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((r) => r.outcome === 'ERR_INPUT_SCHEMA')).toBe(true);
      const usage = await runAos(['trace', 'show', reply.correlationId, '--stream', stream, '--file', 'x.log']);
      expect(usage.code).toBe(2);

      const foreign = uniqueStream();
      await (await nc.jetstreamManager()).streams.add({ name: foreign, subjects: [`${uniqueNamespace()}.elsewhere`] });
      try {
        expect((await errorOf(() => startTracer(system, { stream: foreign }))).code).toBe('ERR_TRACE_LOG');
      } finally {
        await deleteStream(nc, foreign);
      }
      expect(streamSubject(system.subjects.prefix, stream)).toBe(`${system.subjects.prefix}.tracelog.${stream}`);
    } finally {
      await deleteStream(nc, stream);
    }
  });

  test('trace stream - a batch re-sent after JetStream forgot its message id is still stored once (the node remembers, across restarts)', async () => {
    const stream = uniqueStream();
    const nc = await rawClient();
    try {
      // A duplicate window of 200 ms instead of 2 minutes.
      const { system, ns, send } = await tracerOnStream(nc, stream, { duplicate_window: 200_000_000 });
      expect(await send(1)).toEqual({ ok: true, appended: 1 });
      const sentAt = Date.now();
      // No event says JetStream's window has passed: wait for the wall clock to pass it.
      await vi.waitFor(() => expect(Date.now() - sentAt).toBeGreaterThan(400), { timeout: 5_000, interval: 50 });

      // A new tracer on the same node: the node's stream log remembers the batch.
      await system.stop(`tracer/${system.nodeId}`);
      await system.spawn(new URL('../../dist/actors/tracer.js', import.meta.url), { type: 'tracer', key: 'again', subscribe: [`${ns}.trace.>`], config: { stream } });
      expect(await send(1)).toEqual({ ok: true, appended: 0, duplicate: true });

      // A node that opens the stream afresh reads what it holds.
      await system.shutdown();
      const other = await startSystem({ threads: 2, namespace: ns });
      await startTracer(other, { stream });
      expect(await send(1)).toEqual({ ok: true, appended: 0, duplicate: true });
      expect(await send(2)).toEqual({ ok: true, appended: 1 });
      await drained(other);
      const fake = (await readStream(nc, stream)).entries.filter((e) => e.text.includes('"node":"fake"'));
      expect(fake.map((e) => (JSON.parse(e.text) as { batch: { batch: number } }).batch.batch)).toEqual([1, 2]);
      expect(verifyStreamContents(await readStream(nc, stream))).toMatchObject({ ok: true });
    } finally {
      await deleteStream(nc, stream);
    }
  });

  test('trace stream - show, tail and stats read the stream a message at a time and answer as over all its records; tail passes a deleted message', async () => {
    const ns = uniqueNamespace();
    const stream = uniqueStream();
    const nc = await rawClient();
    try {
      const log = await StreamLog.open(nc, ns, stream, { checkpointEvery: 8 });
      const records = chainRecords();
      const third = Math.floor(records.length / 3);
      for (const [n, part] of [records.slice(0, third), records.slice(third, 2 * third), records.slice(2 * third)].entries()) await log.append(recordsInput('n1', n + 1, part).bytes, 'tracer/t');
      const queries: TraceQuery[] = [
        { kind: 'show', correlationId: CHAIN },
        { kind: 'show', correlationId: OTHER_CHAIN },
        { kind: 'tail', limit: 4 },
        { kind: 'tail', limit: 1_000, type: 'turn.finished' },
        { kind: 'tail', denied: true },
        { kind: 'stats' },
      ];
      const recordsNow = async () => {
        const out: TraceRecord[] = [];
        for (const e of (await readStream(nc, stream)).entries) recordsOfEntry(e.text, out);
        return out;
      };
      let every = await recordsNow();
      for (const q of queries) expect(await answerStreamQuery(nc, stream, q), JSON.stringify(q)).toEqual(answerQuery(every, q));
      expect(await answerStreamQuery(nc, stream, { kind: 'show', correlationId: CHAIN })).toMatchObject({ records: expect.arrayContaining([expect.objectContaining({ correlationId: CHAIN })]) });

      // The last message deleted: tail goes on from the one before.
      const jsm = await nc.jetstreamManager();
      const lastSeq = (await jsm.streams.info(stream)).state.last_seq;
      await jsm.streams.deleteMessage(stream, lastSeq);
      every = await recordsNow();
      expect(await answerStreamQuery(nc, stream, { kind: 'tail', limit: 4 })).toEqual(answerQuery(every, { kind: 'tail', limit: 4 }));
    } finally {
      await deleteStream(nc, stream);
    }
  });
});
