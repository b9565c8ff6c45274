// The tracer actor on a real node: hand-made trace batches (the wire form of trace-codec.ts) sent
// as NATS requests from a raw client, as a kernel sends them, acknowledged once in the log; the
// log verifies; a re-sent batch is not written twice, even by a restarted tracer; queries on its
// direct subject answer. The node's own kernel sends its trace to the same tracer: assertions
// look at the made-up node's records only. And FileLog itself: two writers taking turns on one file.

import { mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { startTracer as startTracerOn } from 'autonomy-os';
import { runAos } from '../helpers/processes.js';
import type { NatsConnection } from 'nats';
import {
  decodeTraceBatch,
  encodeTraceBatch,
  ERROR_HEADER,
  FileLog,
  logFiles,
  newCorrelationId,
  newMessageId,
  TRACE_WIRE_VERSION,
  verifyLogFile,
  type TraceBatch,
  type TraceRecord,
} from 'autonomy-os/internal';
import { collect, json, rawClient, replyAsActor } from '../helpers/nats.js';
import { recordsInput } from '../helpers/trace-chain.js';
import { errorOf, fixture, startSystem } from '../helpers/system.js';
import { buildCausalTree, recordsOfLog, type ActorStats } from 'autonomy-os/internal';

/** The built tracer (npm test builds first): its errors carry the runtime's codes. */
const TRACER = new URL('../../dist/actors/tracer.js', import.meta.url);
const FAKE = 'fakenode';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aos-tracer-'));
  dirs.push(dir);
  return join(dir, 'logs', 'trace.log');
}

interface Row {
  event: 'received' | 'turn' | 'sent' | 'replied' | 'failed' | 'retried' | 'dead-lettered';
  at: number;
  actor: string;
  id: string;
  correlationId: string;
  causationId: string | null;
  kind: string;
  from: string;
  to: string;
  outcome?: string;
  durationMs?: number;
  attempt?: number;
}

/** A batch in the wire form: rows over a string table, times from t0 = 0, durations in µs. */
function wireBatch(batch: number, rows: Row[], records: object[] = [], node = FAKE): TraceBatch {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const s = (v: string): number => {
    let i = index.get(v);
    if (i === undefined) {
      i = strings.push(v) - 1;
      index.set(v, i);
    }
    return i;
  };
  const events = rows.map((r): TraceBatch['events'][number] => [
    r.event,
    r.at,
    s(r.actor),
    s(r.kind),
    s(r.from),
    s(r.to),
    s(`x.actor.${r.to.replace('/', '.')}`),
    r.id,
    r.correlationId,
    r.causationId,
    64,
    r.outcome === undefined ? null : s(r.outcome),
    r.durationMs === undefined ? null : r.durationMs * 1000,
    r.attempt ?? 0,
  ]);
  return { v: TRACE_WIRE_VERSION, node, batch, t0: 0, strings, events, records };
}

/** A chain: external -> svc/a, which asks svc/b; svc/b fails once, is retried, answers; one denial. */
function chain(): { correlationId: string; m1: string; m2: string; first: TraceBatch; second: TraceBatch } {
  const c = newCorrelationId();
  const m1 = newMessageId();
  const m2 = newMessageId();
  const base1 = { id: m1, correlationId: c, causationId: null, kind: 'task', from: 'external', to: 'svc/a' };
  const base2 = { id: m2, correlationId: c, causationId: m1, kind: 'ask', from: 'svc/a', to: 'svc/b' };
  const first = wireBatch(1, [
    { ...base1, event: 'received', at: 1000, actor: 'svc/a' },
    { ...base2, event: 'sent', at: 1001, actor: 'svc/a' },
    { ...base2, event: 'received', at: 1002, actor: 'svc/b' },
    { ...base2, event: 'turn', at: 1003, actor: 'svc/b', durationMs: 5, outcome: 'ERR_HANDLER_FAILED' },
    { ...base2, event: 'failed', at: 1008, actor: 'svc/b', outcome: 'ERR_HANDLER_FAILED' },
  ]);
  const denial = { type: 'decision', at: 1004, node: FAKE, actor: 'svc/b', role: 'default', owner: null, action: 'tell', target: 'secret/x', allow: false, rule: 'default deny', reason: 'not-granted', policy: 'p', messageId: m2, correlationId: c };
  const second = wireBatch(
    2,
    [
      { ...base2, event: 'retried', at: 1010, actor: 'svc/b', attempt: 1 },
      { ...base2, event: 'turn', at: 1011, actor: 'svc/b', attempt: 1, durationMs: 3, outcome: 'ok' },
      { ...base2, event: 'replied', at: 1014, actor: 'svc/b', outcome: 'ok' },
      { ...base1, event: 'turn', at: 1000, actor: 'svc/a', durationMs: 20, outcome: 'ok' },
      { ...base1, event: 'replied', at: 1020, actor: 'svc/a', outcome: 'ok' },
    ],
    [denial],
  );
  return { correlationId: c, m1, m2, first, second };
}

interface Ack {
  ok: boolean;
  appended: number;
  duplicate?: boolean;
}

async function send(nc: NatsConnection, ns: string, batch: TraceBatch): Promise<Ack> {
  const msg = await nc.request(`${ns}.trace.${batch.node}`, encodeTraceBatch(batch), { timeout: 10_000 });
  expect(msg.headers?.get(ERROR_HEADER) ?? '').toBe('');
  return msg.json<Ack>();
}

/** The made-up node's records in the log (the node's own kernel traces to the same tracer). */
function fakeRecords(file: string): TraceRecord[] {
  return recordsOfLog(readFileSync(file, 'utf8')).filter((r) => r.node === FAKE);
}

async function startTracer(options: { threads?: number; maxMessageBytes?: number } = {}) {
  const system = await startSystem({ threads: options.threads ?? 2, ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }) });
  const ns = system.subjects.prefix;
  const file = tempFile();
  const tracer = await system.spawn(TRACER, { type: 'tracer', key: 't', subscribe: [`${ns}.trace.>`], config: { file } });
  const nc = await rawClient();
  return { system, ns, file, tracer, nc };
}

describe('tracer actor', () => {
  test('tracer - a batch is appended and acknowledged; the log verifies; a re-sent batch is acknowledged, not written again', async () => {
    const { system, ns, file, nc } = await startTracer();
    const { first, second } = chain();
    expect(await send(nc, ns, first)).toEqual({ ok: true, appended: 6 }); // a `turn` row is two records
    expect(await send(nc, ns, first)).toEqual({ ok: true, appended: 0, duplicate: true });
    expect(await send(nc, ns, second)).toEqual({ ok: true, appended: 8 });
    expect(await send(nc, ns, first)).toEqual({ ok: true, appended: 0, duplicate: true });
    await system.whenIdle();
    expect(verifyLogFile(file)).toMatchObject({ ok: true, headFile: 'checked' });
    const expected = [...decodeTraceBatch(first).records, ...decodeTraceBatch(second).records];
    const logged = fakeRecords(file);
    expect(logged.filter((r) => r.type !== 'trace')).toEqual(expected);
    expect(logged.filter((r) => r.type === 'trace')).toEqual([
      expect.objectContaining({ event: 'batch', node: FAKE, batch: 1, records: 6, tracer: 'tracer/t' }),
      expect.objectContaining({ event: 'batch', node: FAKE, batch: 2, records: 8, tracer: 'tracer/t' }),
    ]);
  });

  test('tracer - queries on its direct subject: show (the chain, for the causal tree), tail with filters, stats', async () => {
    const { system, ns, nc, tracer } = await startTracer();
    const { correlationId, m1, m2, first, second } = chain();
    await send(nc, ns, first);
    await send(nc, ns, second);
    const ask = async <T>(query: object): Promise<T> => {
      const msg = await nc.request(`${ns}.actor.tracer.t`, json({ op: 'query', query }), { timeout: 10_000 });
      expect(msg.headers?.get(ERROR_HEADER) ?? '').toBe('');
      return msg.json<T>();
    };

    const show = await ask<{ ok: boolean; kind: string; records: TraceRecord[] }>({ kind: 'show', correlationId });
    expect(show).toMatchObject({ ok: true, kind: 'show', correlationId });
    expect(show.records).toHaveLength(14);
    const tree = buildCausalTree(show.records);
    expect(tree.roots.map((n) => [n.id, n.outcome, n.children.map((c) => c.id)])).toEqual([[m1, 'ok', [m2]]]);
    const b = tree.roots[0]!.children[0]!;
    expect(b.handlers).toEqual([expect.objectContaining({ actor: 'svc/b', turns: 2, durationMs: 8, outcome: 'ok', replied: 'ok', retries: 1, failures: [{ at: 1008, code: 'ERR_HANDLER_FAILED', attempt: 0 }] })]);
    expect(b.denials).toEqual([expect.objectContaining({ target: 'secret/x', reason: 'not-granted' })]);

    const tail = await ask<{ records: TraceRecord[] }>({ kind: 'tail', actor: 'svc/b', type: 'turn.finished', limit: 1 });
    expect(tail.records).toEqual([expect.objectContaining({ id: m2, event: 'turn.finished', attempt: 1, outcome: 'ok' })]);
    const denied = await ask<{ records: TraceRecord[] }>({ kind: 'tail', denied: true });
    expect(denied.records).toEqual([expect.objectContaining({ type: 'decision', target: 'secret/x' })]);

    // An actor asks the same (msgpack on the way in and out).
    const stats = await system.ref(tracer.id).ask<{ actors: ActorStats[] }>({ op: 'query', query: { kind: 'stats' } });
    expect(stats.actors.filter((s) => s.actor.startsWith('svc/'))).toEqual([
      { actor: 'svc/a', turns: 1, failures: 0, denials: 0, p50Ms: 20, p99Ms: 20 },
      { actor: 'svc/b', turns: 2, failures: 1, denials: 1, p50Ms: 3, p99Ms: 5 },
    ]);
    const none = await ask<{ records: TraceRecord[] }>({ kind: 'show', correlationId: newCorrelationId() });
    expect(none.records).toEqual([]);
  });

  test('tracer - an answer too large for one message is cut to fit: tail keeps the last records, show the first', async () => {
    const { ns, nc } = await startTracer({ maxMessageBytes: 4096 });
    const c = newCorrelationId();
    const ids: string[] = [];
    for (let b = 1; b <= 4; b++) {
      const rows: Row[] = [];
      for (let i = 0; i < 8; i++) {
        const id = newMessageId();
        ids.push(id);
        rows.push({ event: 'sent', at: b * 100 + i, actor: 'svc/a', id, correlationId: c, causationId: null, kind: 'tell', from: 'svc/a', to: 'svc/b' });
      }
      expect(await send(nc, ns, wireBatch(b, rows))).toEqual({ ok: true, appended: 8 });
    }
    const ask = async (query: object) => {
      const msg = await nc.request(`${ns}.actor.tracer.t`, json({ op: 'query', query }), { timeout: 10_000 });
      expect(msg.headers?.get(ERROR_HEADER) ?? '').toBe('');
      expect(msg.data.length).toBeLessThanOrEqual(4096);
      return msg.json<{ truncated?: boolean; records: TraceRecord[] }>();
    };
    const tailed = await ask({ kind: 'tail', actor: 'svc/a', limit: 1000 });
    expect(tailed.truncated).toBe(true);
    expect(tailed.records.length).toBeGreaterThan(0);
    expect(tailed.records.map((r) => (r as { id: string }).id)).toEqual(ids.slice(ids.length - tailed.records.length));
    const shown = await ask({ kind: 'show', correlationId: c });
    expect(shown.truncated).toBe(true);
    expect(shown.records.map((r) => (r as { id: string }).id)).toEqual(ids.slice(0, shown.records.length));
    const small = await ask({ kind: 'tail', actor: 'svc/a', limit: 2 });
    expect(small).toEqual({ ok: true, kind: 'tail', records: [expect.objectContaining({ id: ids[30] }), expect.objectContaining({ id: ids[31] })] });
  });

  test('tracer - a batch or query that is not one fails the input schema (ERR_INPUT_SCHEMA), and the tracer goes on', async () => {
    const { system, ns, nc, file } = await startTracer();
    const bad = { ...wireBatch(1, []), events: [['bogus', 1, 0, 0, 0, 0, 0, 'x', 'y', null, 0, null, null, 0]] } as unknown as TraceBatch;
    const r1 = await nc.request(`${ns}.trace.${FAKE}`, encodeTraceBatch(bad), { timeout: 10_000 });
    expect(r1.headers?.get(ERROR_HEADER)).toBe('ERR_INPUT_SCHEMA');
    const outOfRange = { ...wireBatch(1, []), strings: [], events: [['sent', 1, 5, 0, 0, 0, 0, 'x', 'y', null, 0, null, null, 0]] } as TraceBatch;
    const r2 = await nc.request(`${ns}.trace.${FAKE}`, encodeTraceBatch(outOfRange), { timeout: 10_000 });
    expect(r2.headers?.get(ERROR_HEADER)).toBe('ERR_INPUT_SCHEMA');
    // Well-formed JSON, not in the compact form the kernel writes: refused too (the log holds batches as they came).
    const spaced = JSON.stringify(chain().first, null, 1);
    const r4 = await nc.request(`${ns}.trace.${FAKE}`, new TextEncoder().encode(spaced), { timeout: 10_000 });
    expect(r4.headers?.get(ERROR_HEADER)).toBe('ERR_INPUT_SCHEMA');
    const r3 = await nc.request(`${ns}.actor.tracer.t`, json({ op: 'query', query: { kind: 'everything' } }), { timeout: 10_000 });
    expect(r3.headers?.get(ERROR_HEADER)).toBe('ERR_INPUT_SCHEMA');
    expect(await send(nc, ns, chain().first)).toEqual({ ok: true, appended: 6 });
    await system.whenIdle();
    expect(verifyLogFile(file).ok).toBe(true);
    expect(system.list().find((a) => a.id === 'tracer/t')).toMatchObject({ status: 'running' });
  });

  test('tracer - a tracer started again on the log drops a batch its predecessor appended (batch marks in the log)', async () => {
    const { system, ns, nc, file } = await startTracer();
    const { first, second } = chain();
    await send(nc, ns, first);
    await system.stop('tracer/t');
    await system.spawn(TRACER, { type: 'tracer', key: 't2', subscribe: [`${ns}.trace.>`], config: { file } });
    expect(await send(nc, ns, first)).toEqual({ ok: true, appended: 0, duplicate: true });
    expect(await send(nc, ns, second)).toEqual({ ok: true, appended: 8 });
    await system.whenIdle();
    expect(verifyLogFile(file).ok).toBe(true);
    expect(fakeRecords(file).filter((r) => r.type !== 'trace')).toHaveLength(14);
  });

  test('tracer - turns in two worker threads, each with its own FileLog, make one chain', async () => {
    // piscina gives a task to the first idle worker: a turn held open on the first worker sends
    // the tracer to the second; once released, the first (whose FileLog is behind) gets it back.
    const { system, ns, nc, file } = await startTracer({ threads: 2 });
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'r' });
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    let n = 0;
    const sendSome = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        n += 1;
        const row: Row = { event: 'sent', at: n, actor: 'svc/a', id: newMessageId(), correlationId: newCorrelationId(), causationId: null, kind: 'tell', from: 'svc/a', to: 'svc/b' };
        expect(await send(nc, ns, wireBatch(n, [row]))).toEqual({ ok: true, appended: 1 });
      }
    };
    await sendSome(3);
    const threadA = await relay.ask<number>({ op: 'thread' });
    const held = relay.ask<{ released: string }>({ op: 'hold', on: 'holder/x' });
    await holder.waitFor(1); // the relay's turn runs on the first worker
    await sendSome(3);
    replyAsActor(holder.messages[0]!, 'holder/x', 'go');
    expect(await held).toEqual({ released: 'go' });
    await sendSome(3);
    expect(await relay.ask<number>({ op: 'thread' })).toBe(threadA); // the first worker is idle again, and first
    await system.whenIdle();
    expect(verifyLogFile(file).ok).toBe(true);
    expect(fakeRecords(file).filter((r) => r.type === 'envelope').map((r) => r.at)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('tracer - spawn fails with ERR_TRACE_LOG on a broken log, and ERR_CONFIG without a file', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const file = tempFile();
    FileLog.open(file).append(recordsInput(FAKE, 1, [n(1), n(2)]));
    writeFileSync(file, readFileSync(file, 'utf8').replace('"n":1', '"n":9'));
    const broken = await errorOf(() => system.spawn(TRACER, { type: 'tracer', key: 't', subscribe: [`${ns}.trace.>`], config: { file } }));
    expect(broken.code).toBe('ERR_TRACE_LOG');
    const noFile = await errorOf(() => system.spawn(TRACER, { type: 'tracer', key: 'u', subscribe: [`${ns}.trace.>`] }));
    expect(noFile.code).toBe('ERR_CONFIG');
  });
});

describe('trace file log, several writers', () => {
  test('file log - writers taking turns on one file (turns in different threads) continue one chain', () => {
    const file = tempFile();
    const a = FileLog.open(file, { checkpointEvery: 3 });
    const b = FileLog.open(file, { checkpointEvery: 3 });
    a.append(recordsInput(FAKE, 1, [n(1), n(2)]));
    b.append(recordsInput(FAKE, 2, [n(3)])); // b catches up with a's entry first
    b.append(recordsInput(FAKE, 3, [n(4), n(5)]));
    a.append(recordsInput(FAKE, 4, [n(6)]));
    expect(a.resume()).toBe(false); // nothing new since its own write
    expect(b.resume()).toBe(true);
    expect(b.head).toEqual(a.head);
    expect([a.records, a.checkpoints]).toEqual([6, 2]);
    const report = verifyLogFile(file);
    expect(report).toMatchObject({ ok: true, tail: { records: 6, batches: 4, checkpoints: 2 } });
    expect(recordsOfLog(readFileSync(file, 'utf8')).filter((r) => r.type !== 'trace')).toEqual([1, 2, 3, 4, 5, 6].map(n));
  });

  test('file log - a writer that finds the file changed behind the head (an entry without a head, a cut) refuses to append (ERR_TRACE_LOG), the file untouched', () => {
    const file = tempFile();
    const a = FileLog.open(file);
    a.append(recordsInput(FAKE, 1, [n(1)]));
    const appended = `${readFileSync(file, 'utf8')}{"seq":2,"garbage":true}\n`;
    writeFileSync(file, appended);
    expect(() => a.append(recordsInput(FAKE, 2, [n(2)]))).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'malformed', line: 2 }) }));
    expect(readFileSync(file, 'utf8')).toBe(appended);

    const other = tempFile();
    const b = FileLog.open(other);
    b.append(recordsInput(FAKE, 1, [n(1)]));
    b.append(recordsInput(FAKE, 2, [n(2)]));
    const cut = readFileSync(other, 'utf8').split('\n').slice(0, 1).join('\n') + '\n';
    writeFileSync(other, cut);
    expect(() => b.append(recordsInput(FAKE, 3, [n(3)]))).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'truncated', line: 2 }) }));
    expect(readFileSync(other, 'utf8')).toBe(cut);
  });
});

/** A plain record numbered `i` (type and time as every record has). */
function n(i: number): TraceRecord {
  return { type: 'test', at: i, node: FAKE, n: i } as unknown as TraceRecord;
}

describe('trace file log, in segments', () => {
  test('tracer - with rotateBytes the log goes on in segments: aos trace verify, show and stats read them as one log; a tracer started again continues it', async () => {
    const system = await startSystem({ threads: 2 });
    const file = tempFile();
    const supervised = await startTracerOn(system, { file, rotateBytes: 8_000 });
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e' });
    const first = await echo.ask<{ correlationId: string }>({ text: 'first' });
    for (let round = 0; round < 8; round++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => echo.ask({ text: `r${round}.${i}` })));
      await system.whenIdle(); // a batch per round: the log grows past 8 kB more than once
    }
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 10_000, interval: 20 });
    expect(logFiles(file).length).toBeGreaterThan(2);

    const verify = await runAos(['trace', 'verify', file]);
    expect(verify.stdout, verify.stderr).toMatch(/^ok: \d+ records in \d+ batches/);
    const show = await runAos(['trace', 'show', first.correlationId, '--file', file, '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ correlationId: first.correlationId, roots: [expect.objectContaining({ to: echo.id, outcome: 'ok' })] });
    const stats = await runAos(['trace', 'stats', '--file', file, '--json']);
    expect(JSON.parse(stats.stdout)).toContainEqual(expect.objectContaining({ actor: echo.id, turns: 401 }));

    // Another tracer on the same log, once the first is gone (its supervisor stopped): one chain still.
    await supervised.stop();
    await system.spawn(TRACER, { type: 'tracer', key: 'again', subscribe: [`${system.subjects.prefix}.trace.>`], config: { file, rotateBytes: 8_000 } });
    await echo.ask({ text: 'after' });
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 10_000, interval: 20 });
    expect(verifyLogFile(file)).toMatchObject({ ok: true });
    expect(recordsOfFiles(file).filter((r) => r.type === 'envelope' && r.event === 'turn.finished')).toHaveLength(402);

    // A segment gone from between two others: FAIL names the one after the gap. The oldest ones archived: checked from the oldest left.
    const [oldest, second, third] = logFiles(file);
    renameSync(second!, `${second}.away`);
    const gap = await runAos(['trace', 'verify', file]);
    expect(gap.code).toBe(1);
    expect(gap.stdout).toMatch(new RegExp(`^FAIL: deleted at line 1 of the segment ${third!.replace(/[.]/g, '\\.')} \\(seq \\d+\\): seqs? \\d+`));
    renameSync(`${second}.away`, second!);
    unlinkSync(oldest!);
    const archived = await runAos(['trace', 'verify', file]);
    expect(archived.stdout, archived.stderr).toMatch(/^ok: \d+ records in \d+ batches, \d+ checkpoints, head [0-9a-f]{12} \(seq \d+\) \(from seq \d+: the segments before it are not here\)\n$/);
  });

  test('tracer - with keepSegments the oldest segments go as new ones start: the log stays bounded and verifies from the oldest left', async () => {
    const system = await startSystem({ threads: 2 });
    const file = tempFile();
    await startTracerOn(system, { file, rotateBytes: 8_000, keepSegments: 1 });
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e' });
    for (let round = 0; round < 8; round++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => echo.ask({ text: `r${round}.${i}` })));
      await system.whenIdle(); // a batch per round: several new segments
    }
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 10_000, interval: 20 });
    expect(logFiles(file)).toHaveLength(2); // one segment and the log itself
    const report = verifyLogFile(file);
    expect(report).toMatchObject({ ok: true });
    expect(report.startsAt).toBeGreaterThan(1);
    const verify = await runAos(['trace', 'verify', file]);
    // The log's own retention deleted them, and its mark in the chain says so: complete as far as the log goes.
    expect(verify.stdout, verify.stderr).toMatch(/\(from seq \d+: the log's retention deleted the segments before it\)\n$/);
    expect(report.tail.deletedBefore).toBe(report.startsAt);
    expect((await runAos(['trace', 'verify', file, '--complete'])).code).toBe(0);
    // What is left holds the last rounds' turns, not all 400.
    const turns = recordsOfFiles(file).filter((r) => r.type === 'envelope' && r.event === 'turn.finished');
    expect(turns.length).toBeGreaterThan(0);
    expect(turns.length).toBeLessThan(400);
  });

  test("tracer - with keepDays, a log's segments older than that go when the tracer opens it, marked in the chain", async () => {
    const file = tempFile();
    // Segments written ten days ago (a clock set back), then the log left alone.
    const old = FileLog.open(file, { rotateBytes: 1_000, now: () => Date.now() - 10 * 86_400_000 });
    for (let b = 1; b <= 20; b++) old.append(recordsInput(FAKE, b, [n(2 * b), n(2 * b + 1)]));
    const segments = logFiles(file).slice(0, -1);
    expect(segments.length).toBeGreaterThan(2);
    const system = await startSystem();
    await startTracerOn(system, { file, rotateBytes: 1_000, keepDays: 7 });
    await vi.waitFor(() => expect(logFiles(file)).toEqual([file]), { timeout: 10_000, interval: 20 });
    const report = verifyLogFile(file);
    expect(report).toMatchObject({ ok: true, tail: { records: 40 } });
    expect(report.tail.deletedBefore).toBe(report.startsAt);
    const verify = await runAos(['trace', 'verify', file, '--complete']);
    expect(verify.stdout, verify.stderr).toMatch(/\(from seq \d+: the log's retention deleted the segments before it\)\n$/);
  });

  test('tracer - keepSegments and keepDays go with a file and rotateBytes, as a whole number and a number of days (ERR_CONFIG)', async () => {
    const system = await startSystem();
    const file = tempFile();
    for (const bad of [
      { file, keepSegments: 2 },
      { file, rotateBytes: 8_000, keepSegments: -1 },
      { stream: 'TRACE', keepSegments: 2 },
      { file, keepDays: 7 },
      { file, rotateBytes: 8_000, keepDays: 0 },
      { stream: 'TRACE', keepDays: 7 },
    ]) {
      expect((await errorOf(() => startTracerOn(system, bad))).code, JSON.stringify(bad)).toBe('ERR_CONFIG');
    }
    const ns = system.subjects.prefix;
    for (const config of [{ file, keepSegments: 2 }, { file, keepDays: 7 }, { file, rotateBytes: 8_000, keepDays: -1 }]) {
      const spawned = await errorOf(() => system.spawn(TRACER, { type: 'tracer', key: 'k', subscribe: [`${ns}.trace.>`], config }));
      expect(spawned.code, JSON.stringify(config)).toBe('ERR_CONFIG');
    }
  });
});

function recordsOfFiles(file: string): TraceRecord[] {
  return logFiles(file).flatMap((f) => recordsOfLog(readFileSync(f, 'utf8')));
}
