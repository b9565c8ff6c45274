// The trace log's hash chain, pure: one entry per batch holding the batch's bytes as they came,
// the format round-trips, and every kind of tampering (an edit of any byte of an entry, a deleted,
// reordered or duplicated entry, a cut-off or partial tail, a forged re-hash) is reported at the
// first bad line with its seq and what the entry there holds. No files, no clock but a counter.

import { describe, expect, test } from 'vitest';
import {
  DEFAULT_CHECKPOINT_EVERY,
  encodeTraceBatch,
  formatHead,
  GENESIS,
  LogWriter,
  parseHead,
  recordsBatch,
  recordsOfLog,
  scanTraceBatch,
  TRACE_WIRE_VERSION,
  verifyLog,
  type BatchInput,
  type HeadMark,
  type ProblemKind,
  type TraceBatch,
  type VerifyReport,
} from 'autonomy-os/internal';
import { hashOf, tamper, type Json } from '../helpers/trace-chain.js';

/** A trace record with nested fields, like the kernel's. */
function rec(i: number): Json {
  return { type: 'decision', at: 1_000 + i, node: 'n1', actor: `echo/${i}`, allow: i % 2 === 0, meta: { tags: ['a', 'b'], inner: { deep: i } } };
}

/** Batch `n` (1-based): one `sent` row and two records, so three records. */
function batch(n: number): TraceBatch {
  const b = recordsBatch('n1', n, [rec(2 * n), rec(2 * n + 1)]);
  b.t0 = 1_000 + 10 * n;
  b.strings = ['echo/a', 'tell', 'echo/b', 'x.actor.echo.b'];
  b.events = [['sent', 1, 0, 1, 0, 2, 3, `${n}`.padStart(16, '0'), 'c'.repeat(32), null, 12, null, null, 0]];
  return b;
}

function input(b: TraceBatch, tracer = 'tracer/t'): BatchInput {
  const bytes = encodeTraceBatch(b);
  return { bytes, records: scanTraceBatch(bytes).records, tracer };
}

function clock(start = 1_700_000_000_000): () => number {
  let t = start;
  return () => t++;
}

const decoder = new TextDecoder();
const linesOf = (bytes: Uint8Array): string[] => decoder.decode(bytes).split('\n').slice(0, -1);

/** 6 batches of 3 records, a checkpoint every 4 records: 10 lines, checkpoints at seq 3, 5, 7 and 10. */
function sampleLog(batches = 6, checkpointEvery = 4): { lines: string[]; head: HeadMark; writer: LogWriter } {
  const writer = new LogWriter({ checkpointEvery, now: clock() });
  const lines: string[] = [];
  for (let n = 1; n <= batches; n++) lines.push(...linesOf(writer.append(input(batch(n)))));
  return { lines, head: writer.head, writer };
}

const text = (lines: readonly string[]) => lines.map((l) => `${l}\n`).join('');

function setPath(target: unknown, path: readonly (string | number)[], value: unknown): void {
  let node = target as Json;
  for (const k of path.slice(0, -1)) node = node[k] as Json;
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}



function expectProblem(r: VerifyReport, kind: ProblemKind, line: number, seq: number | null, label = ''): void {
  expect(r.ok, `${label} ${JSON.stringify(r)}`).toBe(false);
  if (!r.ok) expect({ kind: r.problem.kind, line: r.problem.line, seq: r.problem.seq }, label).toEqual({ kind, line, seq });
}

describe('hash chain - format', () => {
  test('hash chain - round trip: the lines verify and give back every record, each batch followed by its mark', () => {
    const { lines, head } = sampleLog();
    expect(lines).toHaveLength(10);
    const r = verifyLog(text(lines), { head });
    expect(r).toEqual({ ok: true, tail: { seq: 10, hash: head.hash, records: 18, batches: 6, checkpoints: 4 } });
    const records = recordsOfLog(text(lines));
    expect(records.filter((x) => x.type === 'decision')).toEqual(Array.from({ length: 12 }, (_, i) => rec(i + 2)));
    expect(records.filter((x) => x.type === 'envelope')).toHaveLength(6);
    expect(records.filter((x) => x.type === 'trace')).toEqual(
      Array.from({ length: 6 }, (_, i) => ({ type: 'trace', event: 'batch', at: expect.any(Number), node: 'n1', batch: i + 1, records: 3, tracer: 'tracer/t' })),
    );
    const entries = lines.map((l) => JSON.parse(l) as Json);
    expect(entries.map((e) => e['seq'])).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(Object.keys(entries[0]!)).toEqual(['seq', 'at', 'prev', 'hash', 'tracer', 'count', 'batch']);
    expect(verifyLog(lines, { head })).toEqual(r);
  });

  test('hash chain - an entry holds its batch byte for byte, and the count of records up to it', () => {
    const w = new LogWriter({ now: clock() });
    const b = input(batch(1));
    const line = linesOf(w.append(b))[0]!;
    expect(line.endsWith(`"batch":${decoder.decode(b.bytes)}}`)).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ seq: 1, prev: GENESIS, tracer: 'tracer/t', count: 3, batch: { v: TRACE_WIRE_VERSION, node: 'n1', batch: 1 } });
    const next = linesOf(w.append(input(batch(2), 'tracer/u')))[0]!;
    expect(JSON.parse(next)).toMatchObject({ seq: 2, tracer: 'tracer/u', count: 6 });
  });

  test('hash chain - hash = sha256(the line without its hash member), prev = the previous hash, genesis 64 zeros', () => {
    const { lines } = sampleLog();
    let prev = GENESIS;
    for (const line of lines) {
      const e = JSON.parse(line) as Json;
      expect(e['prev']).toBe(prev);
      expect(e['hash']).toBe(hashOf(line));
      prev = e['hash'] as string;
    }
  });

  test('hash chain - a checkpoint follows the batch that takes the count past a multiple of N: the count and the hash before it', () => {
    const { lines } = sampleLog();
    const e = lines.map((l) => JSON.parse(l) as Json);
    expect(e.map((x) => ('checkpoint' in x ? (x['checkpoint'] as Json)['count'] : 'b'))).toEqual(['b', 'b', 6, 'b', 9, 'b', 12, 'b', 'b', 18]);
    expect(e[2]).toMatchObject({ seq: 3, prev: e[1]!['hash'], checkpoint: { count: 6, head: e[1]!['hash'] } });
    expect(Object.keys(e[2]!)).toEqual(['seq', 'at', 'prev', 'hash', 'checkpoint']);
    const big = new LogWriter({ now: clock() });
    const many = recordsBatch('n1', 1, Array.from({ length: DEFAULT_CHECKPOINT_EVERY }, (_, i) => rec(i)));
    expect(linesOf(big.append(input(many)))).toHaveLength(2);
    expect(big.chain).toMatchObject({ records: DEFAULT_CHECKPOINT_EVERY, checkpoints: 1 });
    expect(() => new LogWriter({ checkpointEvery: 0 })).toThrow(RangeError);
  });

  test('hash chain - an empty log verifies; one whose head says it had entries is truncated at line 1', () => {
    expect(verifyLog('')).toEqual({ ok: true, tail: { seq: 0, hash: GENESIS, records: 0, batches: 0, checkpoints: 0 } });
    expect(verifyLog('', { head: { seq: 0, hash: GENESIS } }).ok).toBe(true);
    expectProblem(verifyLog('', { head: { seq: 3, hash: 'a'.repeat(64) } }), 'truncated', 1, 1);
  });

  test('hash chain - the head sidecar text round-trips, with or without the counts, and anything else is not a head', () => {
    const head = { seq: 7, hash: 'ab'.repeat(32) };
    expect(parseHead(formatHead(head))).toEqual(head);
    const full = { ...head, records: 90, batches: 5, checkpoints: 2 };
    expect(parseHead(`${formatHead(full)}   \n`)).toEqual(full);
    const hex = 'a'.repeat(64);
    for (const bad of ['', '{', '[]', `{"seq":-1,"hash":"${hex}"}`, '{"seq":1,"hash":"xyz"}', `{"seq":1.5,"hash":"${hex}"}`, `{"seq":1,"hash":"${hex}","records":-2,"batches":1,"checkpoints":0}`]) {
      expect(parseHead(bad), bad).toBeUndefined();
    }
  });
});

describe('hash chain - tampering', () => {
  const { lines, head } = sampleLog();

  test('hash chain - an edit of any byte of an entry (a record, a row, the string table, the entry members) is edited at its line', () => {
    const edits: [string, (e: Json) => void][] = [
      ['a record field', (e) => setPath(e, ['batch', 'records', 0, 'actor'], 'evil/1')],
      ['a nested record field', (e) => setPath(e, ['batch', 'records', 1, 'meta', 'inner', 'deep'], 99)],
      ['an added record field', (e) => setPath(e, ['batch', 'records', 0, 'extra'], true)],
      ['a removed record field', (e) => setPath(e, ['batch', 'records', 0, 'allow'], undefined)],
      ['a row id', (e) => setPath(e, ['batch', 'events', 0, 7], 'f'.repeat(16))],
      ['a row time', (e) => setPath(e, ['batch', 'events', 0, 1], 2)],
      ['a string of the table', (e) => setPath(e, ['batch', 'strings', 2], 'evil/b')],
      ['the batch t0', (e) => setPath(e, ['batch', 't0'], 1)],
      ['the batch node', (e) => setPath(e, ['batch', 'node'], 'n2')],
      ['the entry time', (e) => setPath(e, ['at'], (e['at'] as number) + 1)],
      ['the tracer', (e) => setPath(e, ['tracer'], 'tracer/x')],
      ['the count', (e) => setPath(e, ['count'], 10)],
      ['prev', (e) => setPath(e, ['prev'], 'f'.repeat(64))],
      ['hash', (e) => setPath(e, ['hash'], 'f'.repeat(64))],
      ['an added entry member', (e) => setPath(e, ['note'], 'hi')],
    ];
    for (const [what, edit] of edits) expectProblem(verifyLog(text(tamper(lines, 3, edit)), { head }), 'edited', 4, 4, what);
    const spaced = [...lines];
    spaced[3] = lines[3]!.replace('"strings":[', '"strings": [');
    expectProblem(verifyLog(text(spaced), { head }), 'edited', 4, 4, 'spacing inside the batch');
    // The first and the last batch too, and a checkpoint's fields.
    expectProblem(verifyLog(text(tamper(lines, 0, (e) => setPath(e, ['batch', 'records', 0, 'node'], 'n2'))), { head }), 'edited', 1, 1);
    expectProblem(verifyLog(text(tamper(lines, 8, (e) => setPath(e, ['batch', 'records', 0, 'node'], 'n2'))), { head }), 'edited', 9, 9);
    expectProblem(verifyLog(text(tamper(lines, 2, (e) => setPath(e, ['checkpoint', 'count'], 3))), { head }), 'edited', 3, 3);
  });

  test('hash chain - a problem names what the entry there holds: node, batch and record range', () => {
    const r = verifyLog(text(tamper(lines, 3, (e) => setPath(e, ['batch', 'records', 0, 'actor'], 'evil/1'))), { head });
    expect(r.ok ? undefined : r.problem.entry).toEqual({ node: 'n1', batch: 3, records: [7, 9] });
    const gap = verifyLog(text(lines.filter((_, i) => i !== 3)), { head });
    expect(gap.ok ? undefined : gap.problem).toMatchObject({ kind: 'deleted', line: 4, seq: 5 });
  });

  test('hash chain - a deleted middle entry is deleted at the line after the gap; several name the range', () => {
    expectProblem(verifyLog(text(lines.filter((_, i) => i !== 5)), { head }), 'deleted', 6, 7);
    const r = verifyLog(text(lines.filter((_, i) => i < 2 || i > 4)), { head });
    expectProblem(r, 'deleted', 3, 6);
    if (!r.ok) {
      expect(r.problem.detail).toContain('seqs 3 to 5');
      expect(r.problem.entry).toEqual({ node: 'n1', batch: 4, records: [10, 12] });
    }
    expectProblem(verifyLog(text(lines.slice(1)), { head }), 'deleted', 1, 2); // the first entry
    expectProblem(verifyLog(text(lines.filter((_, i) => i !== 2)), { head }), 'deleted', 3, 4); // a checkpoint
  });

  test('hash chain - a deleted last entry is truncated against the head: the line and seq that are missing', () => {
    expectProblem(verifyLog(text(lines.slice(0, -1)), { head }), 'truncated', 10, 10);
    expectProblem(verifyLog(text(lines.slice(0, 7)), { head }), 'truncated', 8, 8);
    // Without its head the chain alone cannot tell a short log from a cut one.
    expect(verifyLog(text(lines.slice(0, -1))).ok).toBe(true);
  });

  test('hash chain - swapped, moved back and duplicated entries are reordered at the first line out of place', () => {
    const swapped = [...lines];
    [swapped[5], swapped[6]] = [swapped[6]!, swapped[5]!];
    expectProblem(verifyLog(text(swapped), { head }), 'reordered', 6, 7);

    const moved = [...lines];
    const [eighth] = moved.splice(7, 1);
    moved.splice(2, 0, eighth!);
    expectProblem(verifyLog(text(moved), { head }), 'reordered', 3, 8);

    const duplicated = [...lines.slice(0, 4), lines[2]!, ...lines.slice(4)];
    const r = verifyLog(text(duplicated), { head });
    expectProblem(r, 'reordered', 5, 3);
    if (!r.ok) expect(r.problem.detail).toContain('after seq 4');
  });

  test('hash chain - a partial last line is truncated at that line; a missing final newline too', () => {
    const full = text(lines);
    const cut = full.slice(0, full.length - 40);
    expectProblem(verifyLog(cut, { head }), 'truncated', 10, 10);
    expectProblem(verifyLog(full.slice(0, -1), { head }), 'truncated', 10, 10);
    expectProblem(verifyLog(cut), 'truncated', 10, 10);
  });

  test('hash chain - a line that is not an entry is malformed, with the seq due there', () => {
    const cases: [string, string[]][] = [
      ['not JSON', [...lines.slice(0, 4), 'garbage', ...lines.slice(5)]],
      ['empty line', [...lines.slice(0, 4), '', ...lines.slice(4)]],
      ['array', [...lines.slice(0, 4), '[1,2]', ...lines.slice(5)]],
      ['bad prev', tamper(lines, 4, (e) => setPath(e, ['prev'], 'xyz'))],
      ['seq not an integer', tamper(lines, 4, (e) => setPath(e, ['seq'], '5'))],
      ['checkpoint without head', tamper(lines, 4, (e) => setPath(e, ['checkpoint', 'head'], undefined))],
      ['members out of order', [...lines.slice(0, 4), reorder(lines[4]!), ...lines.slice(5)]],
      ['spacing in the entry', [...lines.slice(0, 4), lines[4]!.replace('"seq":5,', '"seq": 5,'), ...lines.slice(5)]],
    ];
    for (const [what, bad] of cases) {
      const r = verifyLog(text(bad), { head });
      expect(r.ok ? 'ok' : r.problem.kind, what).toBe('malformed');
      if (!r.ok) expect([r.problem.line, r.problem.seq], what).toEqual([5, 5]);
    }
  });

  test('hash chain - a forged re-hash is caught at the next entry; one that holds no batch, or a count that does not add up, at itself', () => {
    const forged = tamper(lines, 3, (e) => setPath(e, ['batch', 'records', 0, 'actor'], 'evil/1'), true);
    const r = verifyLog(text(forged), { head });
    expectProblem(r, 'edited', 5, 5);
    if (!r.ok) expect(r.problem.detail).toContain('seq 4 (line 4)');
    // The last entry has no next one: the head catches it.
    expectProblem(verifyLog(text(tamper(lines, 9, (e) => setPath(e, ['checkpoint', 'count'], 0), true)), { head }), 'edited', 10, 10);
    expectProblem(verifyLog(text(tamper(lines, 8, (e) => setPath(e, ['batch', 't0'], 0), true)), { head }), 'edited', 10, 10);
    // What the hash cannot vouch for is checked too.
    expectProblem(verifyLog(text(tamper(lines, 3, (e) => setPath(e, ['count'], 99), true))), 'malformed', 4, 4);
    expectProblem(verifyLog(text(tamper(lines, 3, (e) => setPath(e, ['batch'], { v: TRACE_WIRE_VERSION, rows: [] }), true))), 'malformed', 4, 4);
    expectProblem(verifyLog(text(tamper(lines, 3, (e) => setPath(e, ['batch', 'events', 0, 2], 9), true))), 'malformed', 4, 4); // a string index out of range
  });

  test('hash chain - a whole log re-chained after an edit is caught by the head, but not with a forged head: its checkpoints differ', () => {
    const writer = new LogWriter({ checkpointEvery: 4, now: clock() });
    const rewritten: string[] = [];
    for (let n = 1; n <= 6; n++) {
      const b = batch(n);
      if (n === 2) b.records[0] = { ...b.records[0], actor: 'evil/1' };
      rewritten.push(...linesOf(writer.append(input(b))));
    }
    expectProblem(verifyLog(text(rewritten), { head }), 'edited', 10, 10);
    expect(verifyLog(text(rewritten), { head: writer.head }).ok).toBe(true);
    expect(JSON.parse(rewritten[2]!)['hash']).not.toBe(JSON.parse(lines[2]!)['hash']);
  });

  test('hash chain - only the first problem is reported', () => {
    const bad = tamper(tamper(lines, 8, (e) => setPath(e, ['at'], 0)), 1, (e) => setPath(e, ['at'], 0));
    expectProblem(verifyLog(text(bad.slice(0, -1)), { head }), 'edited', 2, 2);
  });
});

describe('hash chain - resume', () => {
  test('hash chain - a writer resumed from the log continues its chain: seq, prev, count and the checkpoint rhythm', () => {
    const now = clock();
    const first = new LogWriter({ checkpointEvery: 4, now });
    const a = [1, 2, 3].flatMap((n) => linesOf(first.append(input(batch(n)))));
    const resumed = new LogWriter({ checkpointEvery: 4, now, from: verifyLog(text(a)).tail });
    expect(resumed.chain).toEqual(first.chain);
    const b = [4, 5, 6].flatMap((n) => linesOf(resumed.append(input(batch(n)))));
    expect(JSON.parse(b[0]!)).toMatchObject({ seq: 6, prev: first.head.hash, count: 12 });
    expect(verifyLog(text([...a, ...b]), { head: resumed.head })).toMatchObject({ ok: true, tail: { seq: 10, records: 18, checkpoints: 4 } });
    // Checkpoints where a log written in one go has them.
    const counts = (ls: string[]) => ls.map((l) => JSON.parse(l) as Json).filter((e) => 'checkpoint' in e).map((e) => (e['checkpoint'] as Json)['count']);
    expect(counts([...a, ...b])).toEqual(counts(sampleLog().lines));
  });

  test('hash chain - a writer resumes after the last entry that verifies, leaving a partial tail out', () => {
    const { lines } = sampleLog(3);
    const full = text(lines);
    const w = new LogWriter({ from: verifyLog(full.slice(0, full.length - 10)).tail });
    expect(w.chain.seq).toBe(lines.length - 1);
    expect(w.head.hash).toBe((JSON.parse(lines[lines.length - 2]!) as Json)['hash']);
  });

  test('hash chain - a log ahead of its head (a crash between append and head update) verifies; a head hash that differs does not', () => {
    const { lines, writer } = sampleLog();
    const older = (JSON.parse(lines[7]!) as Json)['hash'] as string;
    expect(verifyLog(text(lines), { head: { seq: 8, hash: older } }).ok).toBe(true);
    expectProblem(verifyLog(text(lines), { head: { seq: 8, hash: writer.head.hash } }), 'edited', 8, 8);
  });

  test('hash chain - checking what another writer appended: from its chain on, hashes and links, counts taken as written', () => {
    const { lines } = sampleLog();
    const before = verifyLog(text(lines.slice(0, 4)));
    expect(before.ok).toBe(true);
    const rest = lines.slice(4);
    const r = verifyLog(text(rest), { from: before.tail, firstLine: 5, batches: 'trust' });
    expect(r).toMatchObject({ ok: true, tail: { seq: 10, records: 18 } });
    expectProblem(verifyLog(text(rest.slice(1)), { from: before.tail, firstLine: 5, batches: 'trust' }), 'deleted', 5, 6);
    expectProblem(verifyLog(text(tamper(rest, 1, (e) => setPath(e, ['count'], 1), true)), { from: before.tail, firstLine: 5, batches: 'trust' }), 'malformed', 6, 6);
  });
});

/** The entry with its members in another order (same values). */
function reorder(line: string): string {
  const e = JSON.parse(line) as Json;
  return JSON.stringify(Object.fromEntries(Object.entries(e).reverse()));
}
