// The trace log's hash chain, pure: the format round-trips, and every kind of tampering (an edit
// of any field, a deleted, reordered or duplicated entry, a cut-off or partial tail, a forged
// re-hash) is reported at the first bad line with its seq. No files, no clock but a counter.
// Imported by path: the format is not on the internal entry yet.

import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  canonicalJson,
  DEFAULT_CHECKPOINT_EVERY,
  entryHash,
  formatHead,
  GENESIS,
  LogWriter,
  parseHead,
  verifyLog,
  type HeadMark,
  type LogEntry,
  type ProblemKind,
  type VerifyReport,
} from 'autonomy-os/internal';

type Json = Record<string, unknown>;

/** A trace record with nested fields, like the kernel's. */
function rec(i: number): Json {
  return {
    type: 'envelope',
    event: 'sent',
    at: 1_000 + i,
    node: 'n1',
    actor: `echo/${i}`,
    id: `id${i}`,
    correlationId: 'c1',
    causationId: i === 0 ? null : `id${i - 1}`,
    size: 10 * i,
    meta: { tags: ['a', 'b'], inner: { deep: i } },
  };
}

function clock(start = 1_700_000_000_000): () => number {
  let t = start;
  return () => t++;
}

/** 10 records with a checkpoint every 4: 12 lines; checkpoints at seq 5 and 10. */
function sampleLog(records = 10, checkpointEvery = 4): { lines: string[]; head: HeadMark; writer: LogWriter } {
  const writer = new LogWriter({ checkpointEvery, now: clock() });
  const lines = writer.append(Array.from({ length: records }, (_, i) => rec(i)));
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

/** The lines with entry `index` changed by `edit` (re-serialised in the same key order), and optionally re-hashed. */
function tamper(lines: readonly string[], index: number, edit: (e: Json) => void, rehash = false): string[] {
  const out = [...lines];
  const e = JSON.parse(out[index]!) as Json;
  edit(e);
  if (rehash) e['hash'] = entryHash(e as unknown as LogEntry);
  out[index] = JSON.stringify(e);
  return out;
}

function expectProblem(r: VerifyReport, kind: ProblemKind, line: number, seq: number | null, label = ''): void {
  expect(r.ok, `${label} ${JSON.stringify(r)}`).toBe(false);
  if (!r.ok) expect({ kind: r.problem.kind, line: r.problem.line, seq: r.problem.seq }, label).toEqual({ kind, line, seq });
}

describe('hash chain - format', () => {
  test('hash chain - round trip: the lines verify, and give back every record, the counts and the head', () => {
    const { lines, head } = sampleLog();
    expect(lines).toHaveLength(12);
    const r = verifyLog(text(lines), { head });
    expect(r).toEqual({ ok: true, tail: { seq: 12, hash: head.hash, records: 10, checkpoints: 2, sinceCheckpoint: 2 } });
    const entries = lines.map((l) => JSON.parse(l) as Json);
    expect(entries.filter((e) => 'record' in e).map((e) => e['record'])).toEqual(Array.from({ length: 10 }, (_, i) => rec(i)));
    expect(entries.map((e) => e['seq'])).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(Object.keys(entries[0]!)).toEqual(['seq', 'at', 'prev', 'hash', 'record']);
    // The same lines as an array verify the same way.
    expect(verifyLog(lines, { head })).toEqual(r);
  });

  test('hash chain - hash = sha256(prev || canonicalJSON({seq, at, record})), prev = the previous hash, genesis 64 zeros', () => {
    const { lines } = sampleLog();
    let prev = GENESIS;
    for (const line of lines) {
      const e = JSON.parse(line) as Json;
      expect(e['prev']).toBe(prev);
      const body = 'checkpoint' in e ? { seq: e['seq'], at: e['at'], checkpoint: e['checkpoint'] } : { seq: e['seq'], at: e['at'], record: e['record'] };
      const expected = createHash('sha256').update(`${prev}${canonicalJson(body)}`).digest('hex');
      expect(e['hash']).toBe(expected);
      prev = expected;
    }
  });

  test('hash chain - a checkpoint every N records holds the record count and the hash before it', () => {
    const { lines } = sampleLog();
    const e = lines.map((l) => JSON.parse(l) as Json);
    expect(e[4]).toMatchObject({ seq: 5, prev: e[3]!['hash'], checkpoint: { count: 4, head: e[3]!['hash'] } });
    expect(e[9]).toMatchObject({ seq: 10, checkpoint: { count: 8, head: e[8]!['hash'] } });
    expect(Object.keys(e[4]!)).toEqual(['seq', 'at', 'prev', 'hash', 'checkpoint']);

    const big = new LogWriter({ now: clock() });
    const out = big.append(Array.from({ length: DEFAULT_CHECKPOINT_EVERY }, (_, i) => ({ i })));
    expect(out).toHaveLength(DEFAULT_CHECKPOINT_EVERY + 1);
    expect(JSON.parse(out[DEFAULT_CHECKPOINT_EVERY]!)).toMatchObject({ checkpoint: { count: DEFAULT_CHECKPOINT_EVERY } });
    expect(big.chain).toMatchObject({ records: 1000, checkpoints: 1, sinceCheckpoint: 0 });
  });

  test('hash chain - an empty log verifies; one whose head says it had entries is truncated at line 1', () => {
    expect(verifyLog('')).toEqual({ ok: true, tail: { seq: 0, hash: GENESIS, records: 0, checkpoints: 0, sinceCheckpoint: 0 } });
    expect(verifyLog('', { head: { seq: 0, hash: GENESIS } }).ok).toBe(true);
    expectProblem(verifyLog('', { head: { seq: 3, hash: 'a'.repeat(64) } }), 'truncated', 1, 1);
  });

  test('hash chain - append is all or nothing: a record JSON cannot hold throws and changes nothing', () => {
    const { writer } = sampleLog(3);
    const before = writer.chain;
    expect(() => writer.append([{ ok: 1 }, { n: 1n }])).toThrow(TypeError);
    expect(writer.chain).toEqual(before);
    expect(() => new LogWriter({ checkpointEvery: 0 })).toThrow(RangeError);
  });

  test('hash chain - records are written as canonical JSON: key order, undefined, toJSON and non-finite numbers settle', () => {
    const w = new LogWriter({ now: clock() });
    const [line] = w.append([{ b: 1, a: { d: [1, undefined, NaN], c: new Date(0), u: undefined } }]);
    expect(JSON.parse(line!)['record']).toEqual({ a: { c: '1970-01-01T00:00:00.000Z', d: [1, null, null] }, b: 1 });
    expect(line).toContain('"record":{"a":{"c":"1970-01-01T00:00:00.000Z","d":[1,null,null]},"b":1}');
    expect(verifyLog([line!]).ok).toBe(true);
  });

  test('hash chain - the head sidecar text round-trips, and anything else is not a head', () => {
    const head = { seq: 7, hash: 'ab'.repeat(32) };
    expect(parseHead(formatHead(head))).toEqual(head);
    expect(parseHead(`${formatHead(head)}\n`)).toEqual(head);
    for (const bad of ['', '{', '[]', '{"seq":-1,"hash":"' + 'a'.repeat(64) + '"}', '{"seq":1,"hash":"xyz"}', '{"seq":1.5,"hash":"' + 'a'.repeat(64) + '"}']) {
      expect(parseHead(bad), bad).toBeUndefined();
    }
  });
});

describe('hash chain - tampering', () => {
  const { lines, head } = sampleLog();

  test('hash chain - an edit of any field of a record, nested ones and `at` included, is edited at its line', () => {
    const edits: [string, (e: Json) => void][] = [
      ['top-level field', (e) => setPath(e, ['record', 'actor'], 'evil/1')],
      ['nested field', (e) => setPath(e, ['record', 'meta', 'inner', 'deep'], 99)],
      ['array element', (e) => setPath(e, ['record', 'meta', 'tags', 1], 'c')],
      ['null to a value', (e) => setPath(e, ['record', 'causationId'], 'forged')],
      ['number to a string', (e) => setPath(e, ['record', 'size'], '40')],
      ['added field', (e) => setPath(e, ['record', 'extra'], true)],
      ['removed field', (e) => setPath(e, ['record', 'event'], undefined)],
      ['the record time', (e) => setPath(e, ['record', 'at'], 1)],
      ['the entry time `at`', (e) => setPath(e, ['at'], (e['at'] as number) + 1)],
      ['prev', (e) => setPath(e, ['prev'], 'f'.repeat(64))],
      ['hash', (e) => setPath(e, ['hash'], 'f'.repeat(64))],
      ['the whole record', (e) => setPath(e, ['record'], { type: 'envelope' })],
    ];
    for (const [what, edit] of edits) expectProblem(verifyLog(text(tamper(lines, 3, edit)), { head }), 'edited', 4, 4, what);
    // The first and the last entry too, and a checkpoint's fields.
    expectProblem(verifyLog(text(tamper(lines, 0, (e) => setPath(e, ['record', 'node'], 'n2'))), { head }), 'edited', 1, 1);
    expectProblem(verifyLog(text(tamper(lines, 11, (e) => setPath(e, ['record', 'node'], 'n2'))), { head }), 'edited', 12, 12);
    expectProblem(verifyLog(text(tamper(lines, 4, (e) => setPath(e, ['checkpoint', 'count'], 3))), { head }), 'edited', 5, 5);
  });

  test('hash chain - a deleted middle entry is deleted at the line after the gap; several name the range', () => {
    expectProblem(verifyLog(text(lines.filter((_, i) => i !== 5)), { head }), 'deleted', 6, 7);
    const r = verifyLog(text(lines.filter((_, i) => i < 2 || i > 4)), { head });
    expectProblem(r, 'deleted', 3, 6);
    if (!r.ok) expect(r.problem.detail).toContain('seqs 3 to 5');
    expectProblem(verifyLog(text(lines.slice(1)), { head }), 'deleted', 1, 2); // the first entry
    expectProblem(verifyLog(text(lines.filter((_, i) => i !== 4)), { head }), 'deleted', 5, 6); // a checkpoint
  });

  test('hash chain - a deleted last entry is truncated against the head: the line and seq that are missing', () => {
    const r = verifyLog(text(lines.slice(0, -1)), { head });
    expectProblem(r, 'truncated', 12, 12);
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
    expectProblem(verifyLog(cut, { head }), 'truncated', 12, 12);
    expectProblem(verifyLog(full.slice(0, -1), { head }), 'truncated', 12, 12);
    // Without a head as well: the partial line is enough.
    expectProblem(verifyLog(cut), 'truncated', 12, 12);
  });

  test('hash chain - a line that is not an entry is malformed, with the seq due there', () => {
    const cases: [string, string[]][] = [
      ['not JSON', [...lines.slice(0, 4), 'garbage', ...lines.slice(5)]],
      ['empty line', [...lines.slice(0, 4), '', ...lines.slice(4)]],
      ['array', [...lines.slice(0, 4), '[1,2]', ...lines.slice(5)]],
      ['extra entry field', tamper(lines, 4, (e) => setPath(e, ['note'], 'hi'))],
      ['bad prev', tamper(lines, 4, (e) => setPath(e, ['prev'], 'xyz'))],
      ['seq not an integer', tamper(lines, 4, (e) => setPath(e, ['seq'], '5'))],
      ['checkpoint without head', tamper(lines, 4, (e) => setPath(e, ['checkpoint', 'head'], undefined))],
    ];
    for (const [what, bad] of cases) {
      const r = verifyLog(text(bad), { head });
      expect(r.ok ? 'ok' : r.problem.kind, what).toBe('malformed');
      if (!r.ok) expect([r.problem.line, r.problem.seq], what).toEqual([5, 5]);
    }
  });

  test('hash chain - a line whose bytes changed but whose meaning did not (key order, spacing) is malformed', () => {
    const e = JSON.parse(lines[3]!) as Json;
    const reordered = [...lines];
    reordered[3] = JSON.stringify({ record: e['record'], hash: e['hash'], prev: e['prev'], at: e['at'], seq: e['seq'] });
    expectProblem(verifyLog(text(reordered), { head }), 'malformed', 4, 4);
    const spaced = [...lines];
    spaced[3] = lines[3]!.replace('"seq":4,', '"seq": 4,');
    expectProblem(verifyLog(text(spaced), { head }), 'malformed', 4, 4);
  });

  test('hash chain - a forged re-hash of an edited entry, the rest untouched, is caught at the next entry', () => {
    const forged = tamper(lines, 3, (e) => setPath(e, ['record', 'actor'], 'evil/1'), true);
    const r = verifyLog(text(forged), { head });
    expectProblem(r, 'edited', 5, 5);
    if (!r.ok) expect(r.problem.detail).toContain('seq 4 (line 4)');
    // The last entry has no next one: the head catches it.
    expectProblem(verifyLog(text(tamper(lines, 11, (e) => setPath(e, ['record', 'size'], 0), true)), { head }), 'edited', 12, 12);
    // A re-hashed checkpoint that lies about the count is caught at itself.
    expectProblem(verifyLog(text(tamper(lines, 4, (e) => setPath(e, ['checkpoint', 'count'], 99), true)), { head }), 'edited', 5, 5);
  });

  test('hash chain - a whole log re-chained after an edit is caught by the head, but not with a forged head: its checkpoints differ', () => {
    const writer = new LogWriter({ checkpointEvery: 4, now: clock() });
    const records = Array.from({ length: 10 }, (_, i) => rec(i));
    records[2] = { ...records[2], actor: 'evil/1' };
    const rewritten = writer.append(records);
    expectProblem(verifyLog(text(rewritten), { head }), 'edited', 12, 12);
    // Consistent with a rewritten head it verifies: what the README's limits say. A checkpoint
    // published elsewhere would differ from the rewritten one.
    expect(verifyLog(text(rewritten), { head: writer.head }).ok).toBe(true);
    expect(JSON.parse(rewritten[4]!)['hash']).not.toBe(JSON.parse(lines[4]!)['hash']);
  });

  test('hash chain - only the first problem is reported', () => {
    const bad = tamper(tamper(lines, 8, (e) => setPath(e, ['record', 'size'], 0)), 2, (e) => setPath(e, ['record', 'size'], 0));
    expectProblem(verifyLog(text(bad.slice(0, -1)), { head }), 'edited', 3, 3);
  });
});

describe('hash chain - resume', () => {
  test('hash chain - a writer resumed from the log continues its chain: seq, prev and the checkpoint rhythm', () => {
    const now = clock();
    const first = new LogWriter({ checkpointEvery: 4, now });
    const a = first.append(Array.from({ length: 6 }, (_, i) => rec(i)));
    const resumed = LogWriter.resume(text(a), { checkpointEvery: 4, now });
    expect(resumed.chain).toEqual(first.chain);
    const b = resumed.append(Array.from({ length: 5 }, (_, i) => rec(6 + i)));
    expect(JSON.parse(b[0]!)).toMatchObject({ seq: 8, prev: first.head.hash });
    const r = verifyLog(text([...a, ...b]), { head: resumed.head });
    expect(r).toMatchObject({ ok: true, tail: { seq: 13, records: 11, checkpoints: 2 } });
    // Checkpoints after the 4th and 8th record overall, as if written in one go.
    const cps = [...a, ...b].map((l) => JSON.parse(l) as Json).filter((e) => 'checkpoint' in e).map((e) => (e['checkpoint'] as Json)['count']);
    expect(cps).toEqual([4, 8]);
  });

  test('hash chain - a writer resumes after the last entry that verifies, leaving a partial tail out', () => {
    const { lines } = sampleLog(6);
    const full = text(lines);
    const w = LogWriter.resume(full.slice(0, full.length - 10));
    expect(w.chain.seq).toBe(lines.length - 1);
    expect(w.head.hash).toBe((JSON.parse(lines[lines.length - 2]!) as Json)['hash']);
  });

  test('hash chain - a log ahead of its head (a crash between append and head update) verifies; a head hash that differs does not', () => {
    const { lines, writer } = sampleLog();
    const older = (JSON.parse(lines[8]!) as Json)['hash'] as string;
    expect(verifyLog(text(lines), { head: { seq: 9, hash: older } }).ok).toBe(true);
    expectProblem(verifyLog(text(lines), { head: { seq: 9, hash: writer.head.hash } }), 'edited', 9, 9);
  });
});
