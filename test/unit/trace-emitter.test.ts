// The kernel's trace emitter, alone: rows written straight into a batch's bytes decode to full
// records (and are what the tracer's scanner accepts, with the same count); forged ids cannot
// break a batch; a batch is sealed when the node is idle, when it is full, or SEAL_MS after its
// first row on the node's clock (a manual one here: no real time passes). A message sent to an
// actor of the same node is one row with its handling, and its `sent` is never lost: written on
// its own when the message ends otherwise, when the node goes idle, or after OWED_MAX_MS.

import { describe, expect, test } from 'vitest';
import { ManualClock } from 'autonomy-os';
import { decodeTraceBatch, OWED_MAX_MS, OwedSends, RowBytes, scanTraceBatch, SEAL_MS, TraceEmitter, type Envelope } from 'autonomy-os/internal';

interface Capture {
  batches: Uint8Array[];
  emitter: TraceEmitter;
  clock: ManualClock;
  idle: () => void;
}

/** An emitter on a manual clock whose node is idle only when the test says so. */
function capture(): Capture {
  const batches: Uint8Array[] = [];
  const clock = new ManualClock(1_000);
  let waiters: (() => void)[] = [];
  const idle = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const whenIdle = () => new Promise<void>((resolve) => waiters.push(resolve));
  const emitter = new TraceEmitter('n1', clock, { send: (bytes) => batches.push(bytes) }, 512 * 1024, () => false, whenIdle);
  return { batches, emitter, clock, idle };
}

const env = (over: Partial<Envelope> = {}): Envelope => ({
  kind: 'ask',
  id: '0123456789abcdef',
  from: 'a/1',
  to: 'b/1',
  correlationId: '0123456789abcdef0123456789abcdef',
  causationId: null,
  sentAt: 1,
  attempt: 0,
  format: 'msgpack',
  payload: new Uint8Array(7),
  ...over,
});

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('trace emitter', () => {
  test('trace emitter - a batch decodes to full records, with the traceparent derived from the ids', () => {
    const { batches, emitter } = capture();
    emitter.envelope('sent', 'a/1', env(), 'aos.actor.b.1');
    emitter.other({ type: 'decision', at: 1_000, node: 'n1', actor: 'a/1', allow: true });
    emitter.seal();
    expect(batches).toHaveLength(1);
    const { node, records } = decodeTraceBatch(batches[0]!);
    expect(node).toBe('n1');
    expect(records).toContainEqual(expect.objectContaining({ type: 'envelope', event: 'sent', at: 1_000, actor: 'a/1', id: '0123456789abcdef', size: 7, traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01' }));
    expect(records).toContainEqual(expect.objectContaining({ type: 'decision', actor: 'a/1' }));
    expect(scanTraceBatch(batches[0]!)).toEqual({ node: 'n1', batch: expect.any(Number), records: 2 });
  });

  test('trace emitter - a handled row stands for received, the turn (µs durations) and replied, at times from the batch t0', () => {
    const { batches, emitter, clock } = capture();
    clock.advance(5);
    const d = { env: env({ causationId: 'fedcba9876543210' }), subject: 'aos.actor.b.1', replyMode: 'envelope' as const, receivedAt: 1_003 };
    emitter.handled('b/1', d, 'ok', 1_004.25, 2.5, true);
    emitter.handled('b/1', { ...d, env: env({ id: '1111111111111111' }) }, 'ERR_HANDLER_FAILED', undefined, undefined, false);
    emitter.seal();
    const { records } = decodeTraceBatch(batches[0]!);
    expect(records.map((r) => [(r as { event: string }).event, r.at, (r as { durationMs?: number }).durationMs, (r as { outcome?: string }).outcome])).toEqual([
      ['received', 1_003, undefined, undefined],
      ['received', 1_003, undefined, undefined],
      ['turn.started', 1_004.25, undefined, undefined],
      ['turn.finished', 1_006.75, 2.5, 'ok'],
      ['replied', 1_006.75, undefined, 'ok'],
    ]);
    expect(records[0]).toMatchObject({ causationId: 'fedcba9876543210', actor: 'b/1', from: 'a/1', to: 'b/1', subject: 'aos.actor.b.1' });
    expect(scanTraceBatch(batches[0]!).records).toBe(records.length);
  });

  test('trace emitter - ids a client forged (quotes, backslashes, non-ASCII) cannot break the batch: they come back intact', () => {
    const { batches, emitter } = capture();
    const forged = env({ id: 'x","evil":"1', correlationId: 'c\\"d é', causationId: '"' });
    emitter.envelope('dead-lettered', 'b/1', forged, 'aos.actor.b.1', 'ERR_DENIED');
    emitter.envelope('replied', 'b/1', forged, 'aos.actor.b.1', 'ERR_DENIED');
    emitter.seal();
    const { records } = decodeTraceBatch(batches[0]!);
    expect(records.map((r) => (r as { id: string }).id)).toEqual(['x","evil":"1', 'x","evil":"1']);
    expect((records[0] as { correlationId: string }).correlationId).toBe('c\\"d é');
    expect((records[0] as { causationId: string }).causationId).toBe('"');
    expect(scanTraceBatch(batches[0]!).records).toBe(2);
  });

  test('trace emitter - a batch is sealed when the node is idle, SEAL_MS after its first row while busy, and when full', async () => {
    const { batches, emitter, clock, idle } = capture();
    emitter.envelope('sent', 'a/1', env(), 'aos.actor.b.1');
    await flush();
    expect(batches).toHaveLength(0); // busy: the batch stays open
    idle();
    await flush();
    expect(batches).toHaveLength(1);

    emitter.envelope('sent', 'a/1', env(), 'aos.actor.b.1');
    clock.advance(SEAL_MS - 1);
    expect(batches).toHaveLength(1);
    clock.advance(1);
    expect(batches).toHaveLength(2);
    expect(emitter.pending).toBe(0);

    for (let i = 0; i < 5_000; i++) emitter.envelope('sent', 'a/1', env(), 'aos.actor.b.1');
    expect(batches.length).toBeGreaterThan(2); // sealed full, without time or idleness
    expect(emitter.pending).toBeLessThan(5_000);
    emitter.seal();
    const count = batches.slice(2).reduce((n, b) => n + decodeTraceBatch(b).records.length, 0);
    expect(count).toBe(5_000);
  });

  test('trace emitter - a send to an actor of the node and its handling are one row: sent, received, turn, replied', () => {
    const { batches, emitter } = capture();
    const d = { env: env({ sentAt: 1_000 }), subject: 'aos.actor.b.1', replyMode: 'envelope' as const, receivedAt: 1_000.5, sentBy: 'a/1' };
    emitter.sentHere(d);
    emitter.handled('b/1', d, 'ok', 1_001, 0.25, true);
    emitter.seal();
    const text = new TextDecoder().decode(batches[0]!);
    expect(text.match(/\["handled"/g)).toHaveLength(1);
    expect(text).not.toContain('"sent"');
    const { records } = decodeTraceBatch(batches[0]!);
    expect(records.map((r) => [(r as { event: string }).event, (r as { actor: string }).actor, r.at])).toEqual([
      ['sent', 'a/1', 1_000],
      ['received', 'b/1', 1_000.5],
      ['turn.started', 'b/1', 1_001],
      ['turn.finished', 'b/1', 1_001.25],
      ['replied', 'b/1', 1_001.25],
    ]);
    expect(records[0]).toMatchObject({ type: 'envelope', id: '0123456789abcdef', from: 'a/1', to: 'b/1', subject: 'aos.actor.b.1', size: 7 });
    expect(scanTraceBatch(batches[0]!).records).toBe(5);
    expect(d.sentBy).toBeUndefined();
  });

  test('trace emitter - a local send that ends otherwise has its sent written first, once, as it was sent (attempt 0)', () => {
    const { batches, emitter } = capture();
    const d = { env: env({ sentAt: 1_000 }), subject: 'aos.actor.b.1', replyMode: 'envelope' as const, receivedAt: 1_000, sentBy: 'a/1' };
    emitter.sentHere(d);
    emitter.settleSent(d); // the supervisor retries it: its sent first, then the retry
    d.env.attempt = 1;
    emitter.envelope('retried', 'b/1', d.env, d.subject, 'ERR_HANDLER_FAILED');
    emitter.settleSent(d); // nothing more is owed
    emitter.handled('b/1', d, 'ok', 1_000, 0.1, true);
    emitter.seal();
    const { records } = decodeTraceBatch(batches[0]!);
    const sent = records.filter((r) => (r as { event: string }).event === 'sent');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ actor: 'a/1', at: 1_000 });
    expect((sent[0] as { attempt?: number }).attempt).toBeUndefined();
    expect(records.map((r) => (r as { event: string }).event)).toEqual(['sent', 'retried', 'received', 'turn.started', 'turn.finished', 'replied']);

    // Refused as it arrived (a full mailbox): already written when the sender learns it was delivered.
    const refused = { env: env({ id: '2222222222222222' }), subject: 'aos.actor.b.1', replyMode: 'envelope' as const, sentBy: 'a/1' };
    emitter.settleSent(refused);
    emitter.sentHere(refused);
    emitter.seal();
    expect(decodeTraceBatch(batches[1]!).records.map((r) => (r as { event: string }).event)).toEqual(['sent']);
  });

  test('trace emitter - a send still owed is written when the node goes idle, and by a busy node after OWED_MAX_MS', async () => {
    const { batches, emitter, clock, idle } = capture();
    const waiting = { env: env({ sentAt: 1_000 }), subject: 'aos.actor.b.1', replyMode: 'envelope' as const, sentBy: 'a/1' };
    emitter.sentHere(waiting); // its actor is suspended, say: it waits in the mailbox
    idle();
    await flush();
    expect(batches).toHaveLength(1);
    expect(decodeTraceBatch(batches[0]!).records).toEqual([expect.objectContaining({ event: 'sent', id: '0123456789abcdef', at: 1_000 })]);

    const busy = { env: env({ id: '3333333333333333', sentAt: clock.now() }), subject: 'aos.actor.b.1', replyMode: 'envelope' as const, sentBy: 'a/1' };
    emitter.sentHere(busy);
    clock.advance(OWED_MAX_MS - SEAL_MS);
    expect(batches).toHaveLength(1); // not yet: its handling may still come
    clock.advance(2 * SEAL_MS);
    expect(batches).toHaveLength(2);
    expect(decodeTraceBatch(batches[1]!).records).toEqual([expect.objectContaining({ event: 'sent', id: '3333333333333333' })]);
    emitter.handled('b/1', busy, 'ok', undefined, undefined, false);
    emitter.seal();
    expect(decodeTraceBatch(batches[2]!).records.map((r) => (r as { event: string }).event)).toEqual(['received']);
  });

  test('trace emitter - a handled row is written after the turn of the event loop, before anything recorded later, and counts as pending until then', async () => {
    const { batches, emitter } = capture();
    const d = (id: string, receivedAt = 1_000) => ({ env: env({ id }), subject: 'aos.actor.b.1', replyMode: 'envelope' as const, receivedAt });
    emitter.handled('b/1', d('1111111111111111'), 'ok', 1_000, 0.1, false);
    expect(emitter.pending).toBe(1); // not in the batch yet: the kernel hands out its next turns first
    emitter.other({ type: 'decision', at: 1_001, node: 'n1', actor: 'b/1', allow: true });
    emitter.handled('b/1', d('2222222222222222', 1_002), 'ok', 1_002, 0.1, false);
    await flush();
    expect(emitter.pending).toBe(3);
    emitter.seal();
    const text = new TextDecoder().decode(batches[0]!);
    // The first row went in before the decision that followed it; the second was written by the deferred write.
    expect(text.indexOf('1111111111111111')).toBeLessThan(text.indexOf('2222222222222222'));
    expect(decodeTraceBatch(batches[0]!).records.map((r) => (r as { event?: string }).event ?? r.type)).toEqual(['received', 'turn.started', 'turn.finished', 'decision', 'received', 'turn.started', 'turn.finished']);

    // Many at once are sealed into full batches as they are written, none lost.
    for (let i = 0; i < 9_000; i++) emitter.handled('b/1', d(i.toString(16).padStart(16, '0')), 'ok', 1_000, 0.1, false);
    expect(batches).toHaveLength(1);
    await flush();
    expect(batches.length).toBeGreaterThan(2);
    emitter.seal();
    const handled = batches.slice(1).reduce((n, b) => n + scanTraceBatch(b).records, 0);
    expect(handled).toBe(9_000 * 3);
  });

  test('trace emitter - owed sends: a ring that keeps their order as it grows and wraps, and forgets each once settled', () => {
    const owed = new OwedSends();
    const made: { env: { sentAt: number }; sentBy: string | undefined }[] = [];
    const push = (n: number) => {
      for (let i = 0; i < n; i++) {
        const d = { env: { sentAt: made.length }, sentBy: 'a/1' as string | undefined };
        made.push(d);
        owed.push(d as never);
      }
    };
    push(1_000);
    // Handled in order, 900 of them: the head passes them.
    for (const d of made.slice(0, 900)) d.sentBy = undefined;
    owed.trim();
    expect(owed.size).toBe(100);
    push(3_000); // wraps, then grows
    made[950]!.sentBy = undefined; // handled out of order: stays until the head passes it
    owed.trim();
    expect(owed.size).toBe(3_100);
    const paid: number[] = [];
    owed.settle(1_000, (d) => paid.push((d as unknown as { env: { sentAt: number } }).env.sentAt));
    expect(paid).toEqual([...Array(100).keys()].map((i) => 900 + i).filter((t) => t !== 950));
    expect(owed.size).toBe(3_000);
    owed.settle(Infinity, (d) => paid.push((d as unknown as { env: { sentAt: number } }).env.sentAt));
    expect(paid).toHaveLength(99 + 3_000);
    expect(paid.slice(99)).toEqual([...Array(3_000).keys()].map((i) => 1_000 + i));
    expect(owed.size).toBe(0);
  });

  test('trace emitter - row bytes: integers digit by digit, other numbers as JSON writes them, text past the room it was given', () => {
    const out = new RowBytes();
    const nums = [0, 7, 10, 99, 1_000, 123_456_789, -1, -40, Number.MAX_SAFE_INTEGER, 1.5, -0.25, 1e21, 2 ** 60];
    for (const n of nums) {
      out.room();
      out.num(n);
      out.byte(44);
    }
    const long = 'é"'.repeat(50_000);
    out.room();
    out.text(JSON.stringify(long));
    out.byte(44);
    out.hex('0123456789abcdef');
    const text = new TextDecoder().decode(out.buf.subarray(0, out.end));
    expect(JSON.parse(`[${text}]`)).toEqual([...nums, long, '0123456789abcdef']);
  });
});
