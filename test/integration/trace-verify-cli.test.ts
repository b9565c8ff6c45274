// `aos trace verify` end to end: the built CLI (dist/cli/aos.js, so `npm run build` first) run on
// logs written by FileLog in a temp dir, good and tampered, checking exit codes and the first
// problem's line; and FileLog itself: it creates, resumes, and refuses a broken log, or one that
// another process writes (ERR_TRACE_LOG).

import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAos, startNodeProcess } from '../helpers/processes.js';
import { recordsInput, tamper, type Json } from '../helpers/trace-chain.js';
import { FileLog, GENESIS, headPathOf, lockPathOf, logFiles } from 'autonomy-os/internal';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aos-trace-log-'));
  dirs.push(dir);
  return dir;
}


function rec(i: number): Json {
  return { type: 'decision', at: 1_000 + i, node: 'n1', actor: `echo/${i % 3}`, id: `m${i}`, correlationId: 'c1', meta: { size: i, tags: ['x'] } };
}

/** A log of 10 records in 5 batches of 2, a checkpoint every 4: 7 lines, checkpoints at seq 3 and 6. */
function goodLog(): { file: string; lines: string[]; head: string } {
  const file = join(tempDir(), 'trace.log');
  let t = 1_700_000_000_000;
  const log = FileLog.open(file, { checkpointEvery: 4, now: () => t++ });
  for (let b = 1; b <= 5; b++) log.append(recordsInput('n1', b, [rec(2 * b - 2), rec(2 * b - 1)]));
  return { file, lines: readFileSync(file, 'utf8').split('\n').slice(0, -1), head: log.head.hash };
}

function rewrite(file: string, lines: readonly string[], trailer = '\n'): void {
  writeFileSync(file, lines.join('\n') + (lines.length > 0 ? trailer : ''));
}



const recordOf = (e: Json, i: number): Json => ((e['batch'] as Json)['records'] as Json[])[i]!;

describe('trace verify cli', () => {
  it('trace verify - a good log: ok with its records, batches, checkpoints and head, exit 0', async () => {
    const { file, head } = goodLog();
    const r = await runAos(['trace', 'verify', file]);
    expect(r).toEqual({ code: 0, stdout: `ok: 10 records in 5 batches, 2 checkpoints, head ${head.slice(0, 12)} (seq 7)\n`, stderr: '' });
  });

  it('trace verify - each kind of tampering: FAIL naming the kind, the first bad line, its seq and what it holds, exit 1', async () => {
    const cases: [string, (lines: string[]) => string[], RegExp][] = [
      ['edit a record field', (l) => tamper(l, 1, (e) => (recordOf(e, 0)['actor'] = 'evil/0')), /^FAIL: edited at line 2 \(seq 2; node n1, batch 2, records 3-4\): /],
      ['edit a nested field', (l) => tamper(l, 3, (e) => ((recordOf(e, 1)['meta'] as Json)['size'] = 99)), /^FAIL: edited at line 4 \(seq 4; node n1, batch 3, records 5-6\): /],
      ['edit `at`', (l) => tamper(l, 0, (e) => (e['at'] = 0)), /^FAIL: edited at line 1 \(seq 1; node n1, batch 1, records 1-2\): /],
      ['forge a re-hash', (l) => tamper(l, 1, (e) => (recordOf(e, 0)['id'] = 'forged'), true), /^FAIL: edited at line 3 \(seq 3\): its prev .* seq 2 \(line 2\)/],
      ['delete a middle entry', (l) => l.filter((_, i) => i !== 3), /^FAIL: deleted at line 4 \(seq 5; node n1, batch 4, records 7-8\): seq 4 is missing/],
      ['delete the last entry', (l) => l.slice(0, -1), /^FAIL: truncated at line 7 \(seq 7\): the log ends at seq 6; its head says it reached seq 7/],
      ['swap two entries', (l) => [...l.slice(0, 3), l[4]!, l[3]!, ...l.slice(5)], /^FAIL: reordered at line 4 \(seq 5; node n1, batch 4, records 7-8\): /],
      ['a line of garbage', (l) => [...l.slice(0, 2), '{"seq":', ...l.slice(3)], /^FAIL: malformed at line 3 \(seq 3\): not JSON/],
    ];
    for (const [what, tamper, expected] of cases) {
      const { file, lines } = goodLog();
      rewrite(file, tamper(lines));
      const r = await runAos(['trace', 'verify', file]);
      expect(r.code, what).toBe(1);
      expect(r.stdout, what).toMatch(expected);
      expect(r.stdout.split('\n'), what).toHaveLength(2); // one line
    }
  });

  it('trace verify - a partial last line (a write cut short) is truncated at that line', async () => {
    const { file, lines } = goodLog();
    writeFileSync(file, `${lines.slice(0, -1).join('\n')}\n${lines[6]!.slice(0, 50)}`);
    const r = await runAos(['trace', 'verify', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL: truncated at line 7 \(seq 7\): partial last line/);
  });

  it('trace verify - --json prints the report: ok with counts and head, or the problem', async () => {
    const { file, lines, head } = goodLog();
    const ok = await runAos(['trace', 'verify', file, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ ok: true, file, records: 10, batches: 5, checkpoints: 2, head: { seq: 7, hash: head }, headFile: 'checked' });
    rewrite(file, lines.filter((_, i) => i !== 3));
    const bad = await runAos(['trace', 'verify', '--json', file]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      ok: false,
      records: 4,
      batches: 2,
      head: { seq: 3 },
      problem: { kind: 'deleted', line: 4, seq: 5, detail: expect.any(String), entry: { node: 'n1', batch: 4, records: [7, 8] } },
    });
  });

  it('trace verify - without its head file a log verifies with a warning; a malformed head file fails', async () => {
    const { file } = goodLog();
    const headFile = headPathOf(file);
    writeFileSync(headFile, 'not a head');
    const bad = await runAos(['trace', 'verify', file]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL: malformed in .*trace\.log\.head: /);
    unlinkSync(headFile);
    const r = await runAos(['trace', 'verify', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: 10 records in 5 batches, 2 checkpoints, head [0-9a-f]{12} \(seq 7\)$/m);
    expect(r.stderr).toMatch(/^aos: warning: no head file .*trace\.log\.head: a cut-off tail cannot be detected$/m);
  });

  it("trace verify - segments the log's retention deleted are accounted for by its mark; others missing are not, and --complete fails on them", async () => {
    const file = join(tempDir(), 'trace.log');
    let t = 1_700_000_000_000;
    const log = FileLog.open(file, { checkpointEvery: 4, now: () => t++, rotateBytes: 1_000, keepSegments: 2 });
    for (let b = 1; b <= 30; b++) log.append(recordsInput('n1', b, [rec(2 * b - 2), rec(2 * b - 1)]));
    const segments = logFiles(file).slice(0, -1);
    expect(segments).toHaveLength(2);
    const from = (f: string): number => (JSON.parse(readFileSync(f, 'utf8').split('\n')[0]!) as { seq: number }).seq;
    const first = from(segments[0]!);
    const retained = await runAos(['trace', 'verify', file]);
    expect(retained.stdout).toMatch(new RegExp(`^ok: 60 records in \\d+ batches, \\d+ checkpoints, head [0-9a-f]{12} \\(seq \\d+\\) \\(from seq ${first}: the log's retention deleted the segments before it\\)\n$`));
    expect(await runAos(['trace', 'verify', file, '--complete'])).toMatchObject({ code: 0, stdout: retained.stdout });
    expect(JSON.parse((await runAos(['trace', 'verify', file, '--json'])).stdout)).toMatchObject({ ok: true, startsAt: first, deletedBefore: first });

    // The oldest segment left, deleted by hand: no mark says the log deleted it.
    unlinkSync(segments[0]!);
    const start = from(segments[1]!);
    const gone = await runAos(['trace', 'verify', file]);
    expect(gone).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`\\(from seq ${start}: the segments before it are not here\\)\n$`)) });
    const complete = await runAos(['trace', 'verify', file, '--complete']);
    expect(complete).toMatchObject({ code: 1, stdout: `FAIL: deleted before seq ${start}: seqs 1 to ${start - 1} are not here; no retention mark in the log says it deleted them (moved away, or deleted by hand)\n` });
    const json = await runAos(['trace', 'verify', file, '--complete', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, startsAt: start, deletedBefore: first, problem: { kind: 'deleted', seq: start } });
  });

  it('trace verify - a file that does not exist is ERR_TRACE_LOG, exit 1; no FILE is a usage error, exit 2', async () => {
    const missing = await runAos(['trace', 'verify', join(tempDir(), 'nope.log')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^aos: ERR_TRACE_LOG: /);
    const usage = await runAos(['trace', 'verify']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^usage: aos trace verify FILE/m);
    const help = await runAos(['help']);
    expect(help.stdout).toMatch(/^ {2}trace verify\s/m);
  });
});

describe('trace file log', () => {
  it('file log - open creates the directories, an empty log and a head at genesis', () => {
    const file = join(tempDir(), 'a', 'b', 'trace.log');
    const log = FileLog.open(file);
    expect(readFileSync(file, 'utf8')).toBe('');
    expect(JSON.parse(readFileSync(headPathOf(file), 'utf8'))).toEqual({ seq: 0, hash: GENESIS, records: 0, batches: 0, checkpoints: 0 });
    expect(log.head).toEqual({ seq: 0, hash: GENESIS });
  });

  it('file log - a reopened log (a restart) continues the chain, and the head follows every batch, written in place', async () => {
    const { file, head } = goodLog();
    const again = FileLog.open(file, { checkpointEvery: 4 });
    expect(again.head).toEqual({ seq: 7, hash: head });
    expect([again.records, again.checkpoints]).toEqual([10, 2]);
    again.append(recordsInput('n1', 6, [rec(10), rec(11)]));
    expect(JSON.parse(readFileSync(headPathOf(file), 'utf8'))).toEqual(again.chain);
    expect(again.head.seq).toBe(9); // the batch and the checkpoint after the 12th record
    expect(readFileSync(headPathOf(file)).length).toBe(256); // fixed width: each write covers the last
    expect(existsSync(`${headPathOf(file)}.tmp`)).toBe(false);
    const r = await runAos(['trace', 'verify', file]);
    expect(r.stdout).toBe(`ok: 12 records in 6 batches, 3 checkpoints, head ${again.head.hash.slice(0, 12)} (seq 9)\n`);
  });

  it('file log - refuses to append to a broken log: ERR_TRACE_LOG with the first problem, the file untouched', () => {
    const { file, lines } = goodLog();
    const broken = tamper(lines, 2, (e) => ((e['checkpoint'] as Json)['count'] = 5));
    rewrite(file, broken);
    const before = readFileSync(file, 'utf8');
    expect(() => FileLog.open(file)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: { file, kind: 'edited', line: 3, seq: 3 } }));
    rewrite(file, lines.slice(0, -2)); // cut off: the head says seq 7
    expect(() => FileLog.open(file)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'truncated', line: 6, seq: 6 }) }));
    rewrite(file, lines, ''); // no final newline: a partial write
    expect(() => FileLog.open(file)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'truncated', line: 7 }) }));
    rewrite(file, broken);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('file log - one process writes a log: another is refused (ERR_TRACE_LOG naming it) while it lives, and takes the log over once it is gone', async () => {
    const { file } = goodLog();
    // This process wrote it, and holds its lock until it ends: as if it had ended.
    unlinkSync(lockPathOf(file));
    const before = readFileSync(file, 'utf8');
    const writer = await startNodeProcess('log-writer.mjs', [file], 'log writer');
    expect(Number(writer.id)).toBe(writer.child.pid);
    expect(() => FileLog.open(file)).toThrow(
      expect.objectContaining({ code: 'ERR_TRACE_LOG', message: expect.stringContaining(`is written by another process (pid ${writer.child.pid} on `), details: expect.objectContaining({ file, lock: lockPathOf(file), owner: expect.objectContaining({ pid: writer.child.pid }) }) }),
    );
    expect(readFileSync(file, 'utf8')).toBe(before);

    writer.child.kill('SIGKILL');
    await writer.exited;
    // Its lock is left behind; its process is gone, so the next writer takes it.
    expect((JSON.parse(readFileSync(lockPathOf(file), 'utf8')) as { pid: number }).pid).toBe(writer.child.pid);
    const log = FileLog.open(file);
    expect((JSON.parse(readFileSync(lockPathOf(file), 'utf8')) as { pid: number }).pid).toBe(process.pid);
    log.append(recordsInput('n1', 6, [rec(10)]));
    // Another writer of this process (a worker thread's) shares the lock.
    expect(FileLog.open(file).head).toEqual(log.head);
    expect((await runAos(['trace', 'verify', file])).code).toBe(0);
  });

  it('file log - refuses a log with entries but no head file (its tail could have been cut)', () => {
    const { file } = goodLog();
    unlinkSync(headPathOf(file));
    expect(() => FileLog.open(file)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'truncated' }) }));
    writeFileSync(headPathOf(file), '{"seq":"x"}');
    expect(() => FileLog.open(file)).toThrow(expect.objectContaining({ code: 'ERR_TRACE_LOG', details: expect.objectContaining({ kind: 'malformed' }) }));
  });
});
