// A trace log file read in parts (a log can be larger than a string can be): lines forward and
// backward across chunk boundaries (multi-byte characters split, lines longer than a chunk,
// blank lines, no final newline), verifyFile giving exactly verifyLog's report on the whole text
// however small the parts (a gap in one part that is an entry further on is reordered, not
// deleted), and the queries over the file giving what they give over all its records.

import { appendFileSync, existsSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { AGE_CHECK_MS, answerFileQuery, answerQuery, FileLog, type FileLogOptions, type SegmentsRemoved, forEachLine, forEachLineBackward, logFiles, LogWriter, PartVerifier, recordsOfLog, verifyFile, verifyLog, verifyLogFile, type HeadMark, type TraceQuery } from 'autonomy-os/internal';
import { readFileSync } from 'node:fs';
import { CHAIN, chainRecords, OTHER_CHAIN, recordsInput, writeChainLog } from '../helpers/trace-chain.js';

const dir = mkdtempSync(join(tmpdir(), 'aos-log-parts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(text: string): string {
  const path = join(dir, `f${files++}.log`);
  writeFileSync(path, text);
  return path;
}

const TEXTS = ['', 'a', 'a\n', 'ab\n\ncd', '\n', 'é😀x\nyy\n', `${'é'.repeat(5_000)}\nshort\n${'z'.repeat(3_000)}`];
const CHUNKS = [1, 3, 7, 64, 1 << 20];

describe('log file parts', () => {
  test('log file parts - lines forward: each line, whether a newline ended it and its bytes, whatever the chunk', () => {
    for (const text of TEXTS) {
      const parts = text.split('\n');
      const endsTerminated = text.endsWith('\n') || text === '';
      const want = (endsTerminated ? parts.slice(0, -1) : parts).map((line, i, all) => [line, i < all.length - 1 || endsTerminated, Buffer.byteLength(line) + (i < all.length - 1 || endsTerminated ? 1 : 0)]);
      for (const chunk of CHUNKS) {
        const got: unknown[] = [];
        forEachLine(file(text), (line, terminated, bytes) => void got.push([line, terminated, bytes]), chunk);
        expect(got, `${JSON.stringify(text.slice(0, 20))} in chunks of ${chunk}`).toEqual(want);
      }
    }
  });

  test('log file parts - lines backward: last to first, whatever the chunk; stopping early reads no further', () => {
    for (const text of TEXTS) {
      const parts = text.split('\n');
      const want = (text.endsWith('\n') || text === '' ? parts.slice(0, -1) : parts).reverse();
      for (const chunk of CHUNKS) {
        const got: string[] = [];
        forEachLineBackward(file(text), (line) => void got.push(line), chunk);
        expect(got, `${JSON.stringify(text.slice(0, 20))} in chunks of ${chunk}`).toEqual(want);
      }
    }
    const seen: string[] = [];
    forEachLineBackward(file('1\n2\n3\n4\n'), (line) => (seen.push(line), seen.length < 2), 2);
    expect(seen).toEqual(['4', '3']);
  });
});

/** 8 batches of 2 records, a checkpoint every 4 records: 12 lines. */
function sample(): { lines: string[]; head: HeadMark } {
  let t = 1_700_000_000_000;
  const w = new LogWriter({ checkpointEvery: 4, now: () => t++ });
  const lines: string[] = [];
  for (let n = 1; n <= 8; n++) {
    const input = recordsInput('n1', n, [{ type: 'test', at: n, node: 'n1', n }, { type: 'test', at: n, node: 'n1', n: -n }]);
    lines.push(...new TextDecoder().decode(w.append(input)).split('\n').slice(0, -1));
  }
  return { lines, head: w.head };
}

describe('log file parts - verifyFile', () => {
  const { lines, head } = sample();
  const text = (ls: readonly string[]) => ls.map((l) => `${l}\n`).join('');
  const edited = lines.findIndex((l, i) => i >= 4 && l.includes('"type":"test"'));
  const swapped = [...lines];
  [swapped[2], swapped[8]] = [swapped[8]!, swapped[2]!];
  const cases: [string, string][] = [
    ['intact', text(lines)],
    ['an edited entry', text(lines.map((l, i) => (i === edited ? l.replace('"type":"test"', '"type":"tesT"') : l)))],
    ['a deleted middle entry', text(lines.filter((_, i) => i !== 4))],
    ['a deleted last entry', text(lines.slice(0, -1))],
    ['an entry moved far ahead (reordered across parts)', text(swapped)],
    ['an entry moved back', text([...lines.slice(0, 2), lines[9]!, ...lines.slice(2, 9), ...lines.slice(10)])],
    ['a partial last line', text(lines).slice(0, -30)],
    ['no final newline', text(lines).slice(0, -1)],
    ['empty', ''],
  ];

  test('log file parts - verifyFile gives verifyLog\'s report on the whole text, part by part, for every kind of problem', () => {
    for (const [label, t] of cases) {
      const want = verifyLog(t, { head });
      if (label !== 'intact' && label !== 'empty') expect(want.ok, label).toBe(false);
      for (const partBytes of [1, 700, 1 << 20]) {
        const { report, size } = verifyFile(file(t), head, { partBytes });
        expect(report, `${label}, parts of ${partBytes} bytes`).toEqual(want);
        if (report.ok) expect(size).toBe(Buffer.byteLength(t));
      }
    }
    expect(verifyFile(file(text(lines.slice(0, -1))), null).report.ok).toBe(true); // without its head, a short log is not a cut one
  });

  test('log file parts - a stream\'s messages, each at its sequence, give verifyLog\'s report part by part too', () => {
    const at = (ls: readonly string[]) => ls.map((l, i) => ({ text: l, seq: 101 + i }));
    for (const [label, entries] of [
      ['intact', at(lines)],
      ['a deleted message', at(lines).filter((_, i) => i !== 4)],
      ['an entry moved far ahead', at(swapped)],
    ] as const) {
      const want = verifyLog(
        entries.map((e) => e.text),
        { places: entries.map((e) => e.seq) },
      );
      for (const partBytes of [1, 700, 1 << 20]) {
        const v = new PartVerifier(null, 'places', partBytes);
        for (const e of entries) if (!v.push(e.text, e.seq, e.text.length)) break;
        expect(v.finish(), `${label}, parts of ${partBytes} bytes`).toEqual(want);
      }
    }
  });
});

describe('log file parts - queries', () => {
  test('log file parts - show, tail and stats over the file answer as over all its records', () => {
    const path = writeChainLog(mkdtempSync(join(dir, 'chain-')));
    const records = recordsOfLog(readFileSync(path, 'utf8'));
    const queries: TraceQuery[] = [
      { kind: 'show', correlationId: CHAIN },
      { kind: 'show', correlationId: OTHER_CHAIN },
      { kind: 'show', correlationId: 'f'.repeat(32) },
      { kind: 'tail' },
      { kind: 'tail', limit: 3 },
      { kind: 'tail', limit: 1_000, type: 'turn.finished' },
      { kind: 'tail', actor: 'billing/b1', limit: 2 },
      { kind: 'tail', denied: true },
      { kind: 'tail', type: 'trace' },
      { kind: 'stats' },
    ];
    for (const q of queries) expect(answerFileQuery(path, q), JSON.stringify(q)).toEqual(answerQuery(records, q));
    expect((answerFileQuery(path, { kind: 'show', correlationId: CHAIN }) as { records: unknown[] }).records.length).toBeGreaterThan(10);
  });
});

describe('log file parts - a large log opened', () => {
  /** A log of 40 batches (a checkpoint every 10 records), and what opening it whole says of its chain. */
  function bigLog(): { path: string; whole: FileLog } {
    const path = join(mkdtempSync(join(dir, 'big-')), 'trace.log');
    let t = 1_700_000_000_000;
    const log = FileLog.open(path, { checkpointEvery: 10, now: () => t++ });
    for (let n = 1; n <= 40; n++) log.append(recordsInput('n1', n, [{ type: 'test', at: n, node: 'n1', n }, { type: 'test', at: n, node: 'n1', n: -n }, { type: 'test', at: n, node: 'n1', m: n }]));
    return { path, whole: FileLog.open(path) };
  }
  const TAIL = { verifyWholeUpTo: 0, verifyTailBytes: 2_000 };

  test('log file parts - past verifyWholeUpTo, opening verifies the last part to the head and continues the same chain', () => {
    const { path, whole } = bigLog();
    const tailOnly = FileLog.open(path, TAIL);
    expect(tailOnly.chain).toEqual(whole.chain);
    tailOnly.append(recordsInput('n1', 41, [{ type: 'test', at: 41, node: 'n1' }]));
    const report = verifyLogFile(path);
    expect(report).toMatchObject({ ok: true, tail: { seq: whole.chain.seq + 1, records: whole.chain.records + 1, batches: whole.chain.batches + 1 } });
  });

  test('log file parts - an edit in the part it verifies, or a last line cut, is refused as a whole open refuses it; an older edit is for aos trace verify', () => {
    const { path } = bigLog();
    const lines = readFileSync(path, 'utf8').split('\n');
    const editAt = (i: number) => {
      const copy = join(mkdtempSync(join(dir, 'edit-')), 'trace.log');
      writeFileSync(copy, lines.map((l, j) => (j === i ? l.replace('"type":"test"', '"type":"tesT"') : l)).join('\n'));
      writeFileSync(`${copy}.head`, readFileSync(`${path}.head`));
      return copy;
    };
    const last = lines.length - 2; // the last entry (a newline ends the file)
    const batchNear = (from: number, step: number) => {
      let i = from;
      while (!lines[i]!.includes('"type":"test"')) i += step;
      return i;
    };
    const recent = editAt(batchNear(last, -1));
    expect(() => FileLog.open(recent, TAIL)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'edited' }) }));

    const old = editAt(batchNear(0, 1));
    expect(() => FileLog.open(old)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG' }));
    expect(FileLog.open(old, TAIL).chain.seq).toBeGreaterThan(0); // not read when opened past the limit
    expect(verifyLogFile(old)).toMatchObject({ ok: false, problem: { kind: 'edited', line: 1 } });

    const cut = join(mkdtempSync(join(dir, 'cut-')), 'trace.log');
    writeFileSync(cut, readFileSync(path, 'utf8').slice(0, -1)); // no final newline
    writeFileSync(`${cut}.head`, readFileSync(`${path}.head`));
    expect(() => FileLog.open(cut, TAIL)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'truncated' }) }));
    appendFileSync(cut, '\n');
    expect(FileLog.open(cut, TAIL).chain.seq).toBeGreaterThan(0);
  });
});

describe('log file parts - segments', () => {
  /** The chain's records in 12 batches, each repeated 3 times (36 batches), to a log that starts a segment past `rotateBytes` (none: one file). */
  function segmentedLog(rotateBytes?: number, more: FileLogOptions = {}): string {
    const path = join(mkdtempSync(join(dir, 'seg-')), 'trace.log');
    const records = chainRecords();
    const log = FileLog.open(path, { checkpointEvery: 10, now: () => 1_700_000_000_000, ...(rotateBytes === undefined ? {} : { rotateBytes }), ...more });
    let n = 0;
    for (let round = 0; round < 3; round++) for (let i = 0; i < records.length; i += 3) log.append(recordsInput('n1', ++n, records.slice(i, i + 3)));
    return path;
  }

  test('log file parts - past rotateBytes the log goes on in a new file: one chain, opened, verified and queried as one log', () => {
    const plain = segmentedLog();
    const path = segmentedLog(2_000);
    const files = logFiles(path);
    expect(files.length).toBeGreaterThan(3);
    expect(files[files.length - 1]).toBe(path);
    expect(files.slice(0, -1).every((f) => /\.\d{12}$/.test(f))).toBe(true);
    const whole = verifyLogFile(plain);
    const report = verifyLogFile(path);
    expect(report).toMatchObject({ ok: true, file: path, headFile: 'checked' });
    expect(report.startsAt).toBeUndefined();
    // Each new file opens with a checkpoint: the same records and batches, more checkpoints.
    expect(report.tail.records).toBe(whole.tail.records);
    expect(report.tail.batches).toBe(whole.tail.batches);
    expect(report.tail.checkpoints).toBe(whole.tail.checkpoints + files.length - 1);
    expect(FileLog.open(path, { rotateBytes: 2_000 }).chain).toEqual(report.tail);
    for (const q of [{ kind: 'show', correlationId: CHAIN }, { kind: 'show', correlationId: OTHER_CHAIN }, { kind: 'tail', limit: 40 }, { kind: 'stats' }] as TraceQuery[]) {
      expect(answerFileQuery(path, q), JSON.stringify(q)).toEqual(answerFileQuery(plain, q));
    }
  });

  test('log file parts - segments: a missing middle one is deleted, an edit names its segment, archived oldest ones leave a log that starts later', () => {
    const path = segmentedLog(2_000);
    const files = logFiles(path);
    const middle = files[1]!;
    renameSync(middle, `${middle}.away`);
    expect(verifyLogFile(path)).toMatchObject({ ok: false, file: files[2], problem: { kind: 'deleted', line: 1 } });
    renameSync(`${middle}.away`, middle);
    expect(verifyLogFile(path).ok).toBe(true);

    const text = readFileSync(middle, 'utf8');
    writeFileSync(middle, text.replace('"type":"envelope"', '"type":"envelopE"'));
    expect(verifyLogFile(path)).toMatchObject({ ok: false, file: middle, problem: { kind: 'edited' } });
    writeFileSync(middle, text);

    unlinkSync(files[0]!);
    const archived = verifyLogFile(path);
    expect(archived).toMatchObject({ ok: true, file: path });
    expect(archived.startsAt).toBeGreaterThan(1);
  });

  /** The seq of a log file's first entry. */
  const firstSeq = (f: string): number => (JSON.parse(readFileSync(f, 'utf8').split('\n')[0]!) as { seq: number }).seq;
  /** The retention marks in a log's files: each checkpoint's deletedBefore. */
  const marks = (path: string): number[] =>
    logFiles(path).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"deletedBefore"'))
        .map((l) => (JSON.parse(l) as { checkpoint: { deletedBefore: number } }).checkpoint.deletedBefore),
    );

  test('log file parts - keepSegments: each new segment deletes the oldest beyond that many, marks it in the chain first, and the log verifies from the oldest left', () => {
    const all = segmentedLog(2_000);
    const reports: SegmentsRemoved[] = [];
    const path = segmentedLog(2_000, { keepSegments: 2, onSegmentsRemoved: (r) => reports.push(r) });
    const kept = logFiles(path);
    // The newest two segments and the log itself are left.
    expect(kept).toHaveLength(3);
    const removed = reports.flatMap((r) => r.removed);
    expect(removed.length).toBeGreaterThan(0);
    expect(removed.every((f) => !kept.includes(f) && !existsSync(f))).toBe(true);
    expect(reports.every((r) => r.failed.length === 0 && r.by.join() === 'keepSegments')).toBe(true);
    // Each report's mark: the entries before the segment after the newest one it deleted.
    for (const r of reports) expect(r.deletedBefore).toBe(Number(r.removed[r.removed.length - 1]!.slice(-12)) + 1);
    // Each mark is in the chain, once (the files left hold the newest ones).
    const left = marks(path);
    expect(left.length).toBeGreaterThan(0);
    expect(left).toEqual(reports.map((r) => r.deletedBefore).slice(-left.length));
    const whole = verifyLogFile(all).tail;
    const report = verifyLogFile(path);
    // Counted from the oldest segment left, the chain's record count is the whole log's.
    expect(report).toMatchObject({ ok: true, file: path, tail: { records: whole.records } });
    // The newest mark accounts for every entry before the oldest segment left.
    expect(report.startsAt).toBe(firstSeq(kept[0]!));
    expect(report.startsAt).toBeGreaterThan(1);
    expect(report.tail.deletedBefore).toBe(report.startsAt);
    // Opened again (a tracer's restart), it goes on with the whole log's counts, which its head keeps; nothing more to delete.
    expect(FileLog.open(path, { rotateBytes: 2_000, keepSegments: 2, onSegmentsRemoved: (r) => reports.push(r) }).chain).toMatchObject({ seq: report.tail.seq, hash: report.tail.hash, records: whole.records, batches: whole.batches });
    expect(reports.flatMap((r) => r.removed)).toEqual(removed);
    // 0: only the log's own file is left.
    const alone = segmentedLog(2_000, { keepSegments: 0 });
    expect(logFiles(alone)).toEqual([alone]);
    expect(verifyLogFile(alone)).toMatchObject({ ok: true, tail: { records: whole.records } });
  });

  test('log file parts - keepDays: segments whose last entry is older go, oldest first: at open, as appends come a minute apart, and at a new segment', () => {
    const DAY = 86_400_000;
    const t0 = 1_700_000_000_000;
    let now = t0;
    const path = join(mkdtempSync(join(dir, 'days-')), 'trace.log');
    const records = chainRecords();
    let n = 0;
    const batch = () => recordsInput('n1', ++n, records.slice(0, 3));
    const reports: SegmentsRemoved[] = [];
    const options = (rotateBytes: number): FileLogOptions => ({ checkpointEvery: 10, now: () => now, rotateBytes, keepDays: 1, onSegmentsRemoved: (r) => reports.push(r) });
    // Day 0: segments, written without retention.
    const plain = FileLog.open(path, { checkpointEvery: 10, now: () => now, rotateBytes: 2_000 });
    for (let i = 0; i < 20; i++) plain.append(batch());
    const day0 = logFiles(path).slice(0, -1);
    expect(day0.length).toBeGreaterThan(2);

    // Opened just before they are a day old: kept (this log never starts a segment: rotateBytes is large).
    now = t0 + DAY - 10_000;
    const big = FileLog.open(path, options(1e9));
    expect(reports).toEqual([]);
    // A day old 20 s later, but appends look again only a minute (AGE_CHECK_MS) after the last look.
    now += AGE_CHECK_MS / 2;
    big.append(batch());
    expect(reports).toEqual([]);
    now += AGE_CHECK_MS / 2;
    big.append(batch());
    expect(reports).toEqual([{ removed: day0, failed: [], deletedBefore: firstSeq(path), by: ['keepDays'] }]);
    expect(logFiles(path)).toEqual([path]);
    let report = verifyLogFile(path);
    expect(report).toMatchObject({ ok: true, startsAt: firstSeq(path), tail: { deletedBefore: firstSeq(path) } });

    // At a new segment, whenever the last look was.
    const T = now;
    const small = FileLog.open(path, options(2_000));
    for (let i = 0; i < 10; i++) small.append(batch());
    const dayT = logFiles(path).slice(0, -1);
    expect(dayT.length).toBeGreaterThan(1);
    now = T + DAY - 10_000;
    small.append(batch()); // a look: nothing a day old yet
    expect(reports).toHaveLength(1);
    now = T + DAY + 10_000;
    for (let i = 0; i < 10 && reports.length === 1; i++) {
      const files = logFiles(path).length;
      small.append(batch());
      // Within the minute, only the append that starts a segment looks.
      if (logFiles(path).length === files) expect(reports).toHaveLength(1);
    }
    expect(reports).toHaveLength(2);
    expect(reports[1]!.removed.slice(0, dayT.length)).toEqual(dayT);

    // At open: a log left alone for days loses every segment when a tracer opens it.
    for (let i = 0; i < 10; i++) small.append(batch());
    expect(logFiles(path).length).toBeGreaterThan(1);
    now += 3 * DAY;
    const reopened = FileLog.open(path, options(2_000));
    expect(logFiles(path)).toEqual([path]);
    expect(reports).toHaveLength(3);
    report = verifyLogFile(path);
    expect(report).toMatchObject({ ok: true, tail: { records: reopened.records, deletedBefore: report.startsAt } });
    expect(marks(path)).toEqual([reports[2]!.deletedBefore]);
  });

  test('log file parts - a retention mark is hash-chained: changed, it is edited; one that deletes after itself is malformed', () => {
    const path = segmentedLog(2_000, { keepSegments: 1 });
    const text = readFileSync(path, 'utf8');
    const mark = text.split('\n').find((l) => l.includes('"deletedBefore"'))!;
    const d = (JSON.parse(mark) as { checkpoint: { deletedBefore: number } }).checkpoint.deletedBefore;
    writeFileSync(path, text.replace(`"deletedBefore":${d}}`, `"deletedBefore":${d - 1}}`));
    expect(verifyLogFile(path)).toMatchObject({ ok: false, problem: { kind: 'edited' } });
    const w = new LogWriter({ now: () => 1 });
    w.append(recordsInput('n1', 1, chainRecords().slice(0, 2)));
    const ahead = new TextDecoder().decode(w.checkpoint(3)).trimEnd();
    expect(verifyLog([new TextDecoder().decode(new LogWriter({ now: () => 1 }).append(recordsInput('n1', 1, chainRecords().slice(0, 2)))).trimEnd(), ahead])).toMatchObject({ ok: false, problem: { kind: 'malformed', line: 2, detail: expect.stringMatching(/after its own seq/) } });
  });

  test('log file parts - keepSegments is a whole number, 0 or more, keepDays a number of days above 0; both go with rotateBytes (ERR_CONFIG)', () => {
    const path = join(mkdtempSync(join(dir, 'keep-')), 'trace.log');
    const bads: FileLogOptions[] = [
      { keepSegments: -1, rotateBytes: 2_000 },
      { keepSegments: 1.5, rotateBytes: 2_000 },
      { keepSegments: 2 },
      { keepDays: 0, rotateBytes: 2_000 },
      { keepDays: -1, rotateBytes: 2_000 },
      { keepDays: Number.NaN, rotateBytes: 2_000 },
      { keepDays: Number.POSITIVE_INFINITY, rotateBytes: 2_000 },
      { keepDays: 7 },
    ];
    for (const bad of bads) {
      expect(() => FileLog.open(path, bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    }
  });

  test('log file parts - a new segment cut short by a crash is finished when the log is opened again', () => {
    const path = segmentedLog(2_000);
    const before = verifyLogFile(path);
    // Crashed after the new file was written aside and the full one renamed: the new file goes into place.
    const files = logFiles(path);
    renameSync(path, `${path}.next`);
    expect(existsSync(path)).toBe(false);
    expect(FileLog.open(path, { rotateBytes: 2_000 }).chain).toEqual(before.tail);
    expect(existsSync(`${path}.next`)).toBe(false);
    expect(logFiles(path)).toEqual(files);
    // Crashed before the renames: the file written aside is dropped.
    writeFileSync(`${path}.next`, 'a checkpoint that never took effect\n');
    expect(FileLog.open(path).chain).toEqual(before.tail);
    expect(existsSync(`${path}.next`)).toBe(false);
  });
});
