// Anchors of a file trace log: its tracer publishes the log's head into the namespace's anchors
// stream (JetStream, deletes and purges refused), and `aos trace verify LOG --anchors` checks the
// log against them. A chain rewritten whole, with a matching head, verifies on its own; against
// its anchors it fails (edited), as does a log cut back to before an anchored head (truncated).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterEach, describe, expect, inject, test, vi } from 'vitest';
import { defaultPolicyDoc, startTracer } from 'autonomy-os';
import { anchorStream, formatHead, headPathOf, LogWriter, parseEntry, readAnchors, recordsOfLog, TRACE_ANCHOR_TOOL, verifyLogFile, type ChainState } from 'autonomy-os/internal';
import { runAos } from '../helpers/processes.js';
import { errorOf, fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aos-anchors-'));
  dirs.push(dir);
  return join(dir, 'trace.log');
}

/** Writes the log again from its batches with one record changed in entry `edit`, and a matching head: what someone who can write the file can do. */
function rewrite(file: string, edit: number): void {
  const entries = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => parseEntry(l));
  const w = new LogWriter({ now: () => 1_700_000_000_000 });
  const out: Uint8Array[] = [];
  for (const e of entries) {
    if (typeof e === 'string' || !('batch' in e.body)) continue;
    const batch = e.seq === edit ? e.body.batch.replace('"echo/e"', '"evil/e"') : e.body.batch;
    out.push(w.append({ bytes: new TextEncoder().encode(batch), records: e.body.count - w.chain.records, tracer: e.body.tracer }));
  }
  writeFileSync(file, Buffer.concat(out));
  writeHead(file, w.chain);
}

/** Cuts the log back to its first `keep` entries, with a head that says it ends there. */
function cutBack(file: string, keep: number): void {
  const lines = readFileSync(file, 'utf8').split('\n').slice(0, keep);
  const last = parseEntry(lines[keep - 1]!);
  if (typeof last === 'string' || !('batch' in last.body)) throw new Error('the entry to cut back to is not a batch');
  writeFileSync(file, `${lines.join('\n')}\n`);
  writeHead(file, { seq: last.seq, hash: last.hash, records: last.body.count, batches: keep, checkpoints: 0 });
}

function writeHead(file: string, chain: ChainState): void {
  writeFileSync(headPathOf(file), `${formatHead(chain).padEnd(255)}\n`);
}

describe('trace anchors', () => {
  test("trace anchors - a tracer anchors its log's head; verify --anchors passes on the log, fails on one rewritten whole or cut back", async () => {
    const system = await startSystem({ threads: 2 });
    const ns = system.subjects.prefix;
    const file = tempFile();
    await startTracer(system, { file, anchorEveryMs: 1 });
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e' });
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => echo.ask({ text: `r${round}.${i}` })));
      await system.whenIdle(); // a batch per round, an anchor per batch
    }
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 10_000, interval: 20 });
    const nc = await connect({ servers: inject('natsUrl') });
    try {
      const { stream, anchors } = await readAnchors(nc, ns, file);
      expect(stream).toBe(anchorStream(ns));
      expect(anchors.length).toBeGreaterThanOrEqual(5);
      expect(anchors.every((a) => a.tracer === `tracer/${system.nodeId}` && a.node === system.nodeId)).toBe(true);
      // The anchors stream refuses to forget.
      const jsm = await nc.jetstreamManager();
      expect(await errorOf(() => jsm.streams.deleteMessage(stream, 1))).toBeDefined();
      expect(await errorOf(() => jsm.streams.purge(stream))).toBeDefined();
      expect((await jsm.streams.info(stream)).state.messages).toBe(anchors.length);
    } finally {
      await nc.close();
    }
    await system.shutdown({ timeoutMs: 5_000 });
    const verify = (...more: string[]) => runAos(['trace', 'verify', file, '--anchors', '--nats', inject('natsUrl'), '--namespace', ns, ...more]);
    const good = await verify();
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(new RegExp(`^ok: .*\\nanchors: \\d+ matched in ${anchorStream(ns)}, the newest at seq \\d+, \\S+ \\(tracer/${system.nodeId}\\)\\n$`));
    const json = JSON.parse((await verify('--json')).stdout) as { ok: boolean; anchors: { matched: number; newest: { seq: number } } };
    expect(json).toMatchObject({ ok: true, anchors: { matched: expect.any(Number), newest: { seq: verifyLogFile(file).tail.seq } } });

    const original = readFileSync(file);
    const head = readFileSync(headPathOf(file));
    // Rewritten whole from its second entry, with a matching head: it verifies on its own.
    rewrite(file, 2);
    expect(readFileSync(file, 'utf8')).toContain('"evil/e"');
    expect((await runAos(['trace', 'verify', file])).code).toBe(0);
    const edited = await verify();
    expect(edited.code).toBe(1);
    expect(edited.stdout).toMatch(/^FAIL: edited at seq \d+: its hash is [0-9a-f]{12}; its anchor of \S+ \(tracer\/\S+\) says [0-9a-f]{12}: the chain was rewritten at or before seq \d+\n$/);

    // Cut back to its first two entries, with a matching head: it verifies on its own.
    writeFileSync(file, original);
    writeFileSync(headPathOf(file), head);
    cutBack(file, 2);
    expect((await runAos(['trace', 'verify', file])).code).toBe(0);
    const cut = await verify();
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(/^FAIL: truncated at seq \d+: the log ends at seq 2; its anchor of .* says it had reached seq \d+\n$/);

    // Another log has no anchors: verify --anchors says so, and fails.
    const other = tempFile();
    writeFileSync(other, original);
    writeFileSync(headPathOf(other), head);
    const none = await runAos(['trace', 'verify', other, '--anchors', '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(new RegExp(`^FAIL: no anchors: no anchors of ${other} in the stream ${anchorStream(ns)} \\(on ${ns}\\.traceanchor\\.\\*\\.[0-9a-f]{16}\\): was it anchored`));
  });

  test('trace anchors - an anchor that fails (its tool not granted) is recorded as denied and leaves the appends alone', async () => {
    const ns = uniqueNamespace();
    const policy = defaultPolicyDoc(ns);
    policy.roles['tracer'] = { ...policy.roles['tracer']!, tools: { allow: ['trace.append', 'trace.query'], deny: [] } };
    const system = await startSystem({ namespace: ns, policy });
    const file = tempFile();
    // Tried once a minute: the denial is itself a record, which makes another batch.
    await startTracer(system, { file, anchorEveryMs: 60_000 });
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => echo.ask({ text: `m${i}` })));
    await system.whenIdle();
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 10_000, interval: 20 });
    const records = recordsOfLog(readFileSync(file, 'utf8')) as unknown as Record<string, unknown>[];
    expect(records.filter((r) => r['type'] === 'decision' && r['target'] === TRACE_ANCHOR_TOOL).map((r) => r['allow'])).toEqual([false]);
    expect(records.filter((r) => r['type'] === 'envelope' && r['event'] === 'turn.finished' && r['actor'] === 'echo/e')).toHaveLength(20);
    expect(verifyLogFile(file).ok).toBe(true);
    const nc = await connect({ servers: inject('natsUrl') });
    try {
      expect((await readAnchors(nc, ns, file)).anchors).toEqual([]);
    } finally {
      await nc.close();
    }
  });

  test('trace anchors - anchorEveryMs goes with a file, as a positive whole number (ERR_CONFIG)', async () => {
    const system = await startSystem();
    const file = tempFile();
    for (const bad of [{ file, anchorEveryMs: 0 }, { file, anchorEveryMs: 1.5 }, { stream: 'TRACE', anchorEveryMs: 1_000 }]) {
      expect((await errorOf(() => startTracer(system, bad))).code, JSON.stringify(bad)).toBe('ERR_CONFIG');
    }
  });
});
