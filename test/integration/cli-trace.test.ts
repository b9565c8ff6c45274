// `aos trace tail|show|stats` end to end: the built CLI (dist/cli/aos.js, so `npm run build` first)
// run as a user runs it. tail listens on the suite's nats-server while a raw client publishes
// hand-made batches in the wire form of runtime/trace/trace-codec.ts, as requests the way the
// kernel sends them; show and stats read a log written by FileLog in a temp dir, or ask a stand-in
// tracer on `<ns>.ctl.all.trace`. Each test has a namespace and a directory of its own.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInbox } from 'nats';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TRACE_WIRE_VERSION, type TraceBatch } from 'autonomy-os/internal';
import { collect, json, parseJson, rawClient } from '../helpers/nats.js';
import { runAos, startAos, type AosProcess } from '../helpers/processes.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';
import { CHAIN, chainRecords, M1, M2, M3, OTHER_CHAIN, writeChainLog } from '../helpers/trace-chain.js';




const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function chainLog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aos-cli-trace-'));
  dirs.push(dir);
  return writeChainLog(dir);
}

// ---- hand-made batches, in the kernel's wire form ------------------------------------------

type Row = [event: string, at: number, actor: string, id: string, causationId: string | null, kind: string, from: string, to: string, subject: string, size: number, outcome: string | null, durationMs: number | null, attempt: number];

function batch(node: string, n: number, rows: Row[], records: object[] = []): TraceBatch {
  const strings: string[] = [];
  const s = (v: string): number => {
    const i = strings.indexOf(v);
    return i >= 0 ? i : strings.push(v) - 1;
  };
  const events = rows.map(([event, at, actor, id, causationId, kind, from, to, subject, size, outcome, durationMs, attempt]) => [
    event,
    at - T,
    s(actor),
    s(kind),
    s(from),
    s(to),
    s(subject),
    id,
    CHAIN,
    causationId,
    size,
    outcome === null ? null : s(outcome),
    durationMs === null ? null : durationMs * 1000,
    attempt,
  ]);
  return { v: TRACE_WIRE_VERSION, node, batch: n, t0: T, strings, events, records } as TraceBatch;
}

const T = 1_714_560_121_120;

function denial(allow: boolean, at: number): object {
  return { type: 'decision', at, node: 'n1', actor: 'triage/t1', role: 'desk', owner: null, action: 'tell', target: 'x.actor.notifier.n1', allow, rule: 'roles.desk.tell', ...(allow ? {} : { reason: 'not-granted' }), policy: 'v1', messageId: M1, correlationId: CHAIN };
}

/** Batch 1: a task received and handled by triage/t1 (received, turn started, turn finished), an ask sent, a denial. */
const B1 = (ns: string) =>
  batch(
    'n1',
    1,
    [
      ['received', T, 'triage/t1', M1, null, 'task', 'external/web', `${ns}.task.tickets`, `${ns}.task.tickets`, 128, null, null, 0],
      ['turn', T + 1, 'triage/t1', M1, null, 'task', 'external/web', `${ns}.task.tickets`, `${ns}.task.tickets`, 128, 'ok', 14, 0],
      ['sent', T + 2, 'triage/t1', M2, M1, 'ask', 'triage/t1', 'billing/b1', `${ns}.actor.billing.b1`, 42, null, null, 0],
    ],
    [denial(false, T + 13)],
  );

/** Batch 2: billing/b1 fails, audit/a1 dead-letters, an allowed decision. */
const B2 = (ns: string) =>
  batch(
    'n1',
    2,
    [
      ['failed', T + 5, 'billing/b1', M2, M1, 'ask', 'triage/t1', 'billing/b1', `${ns}.actor.billing.b1`, 42, 'ERR_HANDLER_FAILED', null, 0],
      ['dead-lettered', T + 22, 'audit/a1', M3, M1, 'tell', 'triage/t1', 'audit/a1', `${ns}.actor.audit.a1`, 10, 'ERR_HANDLER_FAILED', null, 1],
    ],
    [denial(true, T + 23)],
  );

/** Runs `aos trace tail` in a fresh namespace; `send` publishes batches as the kernel does: requests, with a reply inbox that must stay silent. */
async function tail(flags: string[]) {
  const ns = uniqueNamespace();
  const nc = await rawClient();
  const inbox = createInbox();
  const replies = await collect(nc, inbox);
  const proc = run(['trace', 'tail', '--nats', inject('natsUrl'), '--namespace', ns, ...flags]);
  await proc.listening();
  const send = async (...bodies: (TraceBatch | string)[]) => {
    for (const b of bodies) nc.publish(`${ns}.trace.n1`, typeof b === 'string' ? new TextEncoder().encode(b) : json(b), { reply: inbox });
    await nc.flush();
  };
  const done = async () => {
    const exit = await proc.exit;
    await nc.flush(); // anything tail had sent would be here by now
    return { ...exit, lines: exit.stdout.split('\n').filter((l) => l !== ''), replies: replies.count };
  };
  return { ns, send, done };
}

const aos = runAos;
/** `aos <args>` (trace tail), ready once it says on stderr that it listens. */
function run(args: string[]): AosProcess & { listening: () => Promise<void> } {
  const p = startAos(args);
  return { ...p, listening: () => p.line('stderr', (l) => l.includes('listening on'), 15_000, 'aos trace tail listening').then(() => undefined) };
}

describe('cli trace tail', () => {
  it('cli trace tail - prints every record of every batch once, a re-sent batch once, and never answers a batch', async () => {
    const t = await tail(['--limit', '8']);
    await t.send('not a batch', B1(t.ns), B1(t.ns), B2(t.ns));
    const r = await t.done();
    expect(r.code).toBe(0);
    expect(r.replies).toBe(0);
    expect(r.lines).toHaveLength(8); // 5 of batch 1 (its turn row is two records), 3 of batch 2: the second batch 1 was dropped
    expect(r.lines.filter((l) => /\breceived\b/.test(l))).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}n1 +triage\/t1 +received +task from external\/web on \S+\.task\.tickets, 128 B {2}msg a000000000000001 chain 4bf92f35$/);
    expect(r.lines).toContainEqual(expect.stringMatching(/triage\/t1 +turn\.finished +ok in 14ms/));
    expect(r.lines).toContainEqual(expect.stringMatching(/triage\/t1 +sent +ask to billing\/b1, 42 B/));
    expect(r.lines).toContainEqual(expect.stringMatching(/triage\/t1 +DENIED +tell x\.actor\.notifier\.n1 \(not-granted; rule roles\.desk\.tell\) {2}chain 4bf92f35$/));
    expect(r.lines).toContainEqual(expect.stringMatching(/billing\/b1 +failed +ERR_HANDLER_FAILED \(attempt 1\)/));
    expect(r.lines).toContainEqual(expect.stringMatching(/audit\/a1 +dead-lettered +ERR_HANDLER_FAILED, tell from triage\/t1/));
    expect(r.lines).toContainEqual(expect.stringMatching(/triage\/t1 +allowed +tell/));
    expect(r.stderr).toMatch(/ignored a message on \S+\.trace\.n1 that is not a trace batch/);
  });

  it('cli trace tail - --denied keeps denials and the events that ended in an error', async () => {
    const t = await tail(['--denied', '--limit', '3']);
    await t.send(B1(t.ns), B2(t.ns));
    const r = await t.done();
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => l.split(/\s+/)[3])).toEqual(['DENIED', 'failed', 'dead-lettered']);
  });

  it('cli trace tail - --actor and --type (an envelope event or a record type) narrow it down', async () => {
    const t = await tail(['--actor', 'billing/b1', '--type', 'failed', '--limit', '1']);
    await t.send(B1(t.ns), B2(t.ns));
    const r = await t.done();
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/billing\/b1 +failed +ERR_HANDLER_FAILED/);

    const j = await tail(['--type', 'decision', '--json', '--limit', '2']);
    await j.send(B1(j.ns), B2(j.ns));
    const rj = await j.done();
    const records = rj.lines.map((l) => JSON.parse(l) as { type: string; allow: boolean });
    expect(records.map((x) => `${x.type} ${x.allow}`)).toEqual(['decision false', 'decision true']);
  });

  it('cli trace tail - follows a real node beside the tracer that acknowledges its batches', async () => {
    const ns = uniqueNamespace();
    // A stand-in tracer: acknowledges every batch, as the tracer actor does.
    const acker = await rawClient();
    acker.subscribe(`${ns}.trace.>`, { queue: 'tracer', callback: (err, msg) => (err === null ? msg.respond(json({ ok: true })) : undefined) });
    await acker.flush();
    const proc = run(['trace', 'tail', '--nats', inject('natsUrl'), '--namespace', ns, '--actor', 'echo/a', '--type', 'decision', '--limit', '1']);
    await proc.listening();
    const system = await startSystem({ namespace: ns });
    // Spawning with a task subject is the broker's first decision about echo/a: subscribe, allowed.
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const r = await proc.exit;
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.length > 0)).toHaveLength(1);
    expect(r.stdout).toContain(system.nodeId);
    expect(r.stdout).toContain('echo/a');
    expect(r.stdout).toContain(`${ns}.task.echo`);
  });

  it('cli trace tail - runs until SIGINT, then exits 0', async () => {
    const proc = run(['trace', 'tail', '--nats', inject('natsUrl'), '--namespace', uniqueNamespace()]);
    await proc.listening();
    proc.child.kill('SIGINT');
    const r = await proc.exit;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('cli trace tail - a bad --limit is a usage error (exit 2, the synopsis)', async () => {
    const r = await aos(['trace', 'tail', '--limit', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: aos trace tail /m);
  });
});

describe('cli trace show and stats on a log file', () => {
  it('cli trace show - the causal tree: each message under the one whose handling sent it, with times, failures, restarts, denials', async () => {
    const r = await aos(['trace', 'show', CHAIN, '--file', chainLog()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`chain ${CHAIN}: 3 messages, 4 participants, 3 failures, 1 denial, 1 dead letter; 22ms from 2024-05-01T10:42:01.120Z`);
    const body = lines.slice(1, -1);
    const expected = [
      /^ \+0ms {2}task external\/web -> triage\/t1 on demo\.task\.tickets, 128 B {2}\[msg a000000000000001\]$/,
      /^ \+2ms {4}ask triage\/t1 -> billing\/b1, 42 B {2}\[msg b000000000000002\]$/,
      /^ \+5ms {6}billing\/b1: turn FAILED after 2ms: ERR_HANDLER_FAILED$/,
      /^ \+6ms {6}RESTART billing\/b1 by desk \(ERR_HANDLER_FAILED\)$/,
      /^ \+7ms {6}billing\/b1: retry 1 after ERR_HANDLER_FAILED$/,
      /^\+12ms {6}billing\/b1: turn ok in 4ms \(attempt 2\)$/,
      /^\+12ms {6}billing\/b1: replied ok$/,
      /^\+13ms {4}DENIED triage\/t1: tell demo\.actor\.notifier\.n1 \(not-granted; rule roles\.desk\.tell\)$/,
      /^\+14ms {4}tell triage\/t1 -> audit\/a1, 10 B {2}\[msg c000000000000003\]$/,
      /^\+18ms {6}audit\/a1: turn FAILED after 2ms: ERR_HANDLER_FAILED$/,
      /^\+19ms {6}audit\/a1: retry 1 after ERR_HANDLER_FAILED$/,
      /^\+21ms {6}audit\/a1: turn FAILED after 2ms: ERR_HANDLER_FAILED \(attempt 2\)$/,
      /^\+22ms {6}audit\/a1: DEAD-LETTERED ERR_HANDLER_FAILED$/,
      /^\+15ms {4}triage\/t1: turn ok in 14ms$/,
      /^\+15ms {4}triage\/t1: replied ok$/,
    ];
    expect(body).toHaveLength(expected.length);
    body.forEach((line, i) => expect(line).toMatch(expected[i]!));
    expect(r.stdout).not.toContain(OTHER_CHAIN);
  });

  it('cli trace show - an abbreviated correlationId finds its chain; --json prints the tree', async () => {
    const r = await aos(['trace', 'show', CHAIN.slice(0, 8), '--file', chainLog(), '--json']);
    expect(r.code).toBe(0);
    const tree = JSON.parse(r.stdout) as { correlationId: string; roots: { id: string; children: { id: string; denials: unknown[] }[]; denials: unknown[] }[] };
    expect(tree.correlationId).toBe(CHAIN);
    expect(tree.roots.map((n) => n.id)).toEqual([M1]);
    expect(tree.roots[0]!.children.map((n) => n.id)).toEqual([M2, M3]);
    expect(tree.roots[0]!.denials).toHaveLength(1);
  });

  it('cli trace show - a chain the log does not hold exits 1', async () => {
    const r = await aos(['trace', 'show', 'ffffffffffffffffffffffffffffffff', '--file', chainLog()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no record of chain f{32} in the log \(2 chains there\)/);
  });

  it('cli trace show - a log that does not verify is shown with a warning', async () => {
    const file = chainLog();
    const text = readFileSync(file, 'utf8').replace('"size":42', '"size":43');
    writeFileSync(file, text);
    const r = await aos(['trace', 'show', CHAIN, '--file', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*trace\.log does not verify \(edited at line \d+\)/);
    expect(r.stdout).toMatch(/ask triage\/t1 -> billing\/b1, 43 B/);
  });

  it('cli trace stats - a table per actor: turns, failures, denials, p50 and p99 turn time', async () => {
    const r = await aos(['trace', 'stats', '--file', chainLog()]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).toEqual([
      'ACTOR TURNS FAILURES DENIALS P50 P99',
      'audit/a1 2 2 0 2ms 2ms',
      'billing/b1 2 1 0 2ms 4ms',
      'echo/e1 1 0 0 1ms 1ms',
      'triage/t1 1 0 1 14ms 14ms',
      '',
    ]);
    const j = await aos(['trace', 'stats', '--file', chainLog(), '--json']);
    expect(JSON.parse(j.stdout)).toContainEqual({ actor: 'billing/b1', turns: 2, failures: 1, denials: 0, p50Ms: 2, p99Ms: 4 });
  });

  it('cli trace stats - a missing log exits 1 with ERR_TRACE_LOG', async () => {
    const r = await aos(['trace', 'stats', '--file', join(tmpdir(), 'no-such-dir-aos', 'trace.log')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^aos: ERR_TRACE_LOG: /);
  });

  it('cli trace show - usage errors exit 2 with the synopsis: no correlationId, --file with --nats', async () => {
    const none = await aos(['trace', 'show', '--file', 'x.log']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^usage: aos trace show <correlationId>/m);
    const both = await aos(['trace', 'stats', '--file', 'x.log', '--nats', 'nats://127.0.0.1:1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^usage: aos trace stats /m);
  });
});

describe('cli trace show and stats over NATS', () => {
  /** A stand-in tracer on `<ns>.ctl.all.trace`: answers with `answer(request)`, and keeps the requests. */
  async function standInTracer(ns: string, answer: (req: Record<string, unknown>) => unknown) {
    const nc = await rawClient();
    const requests: Record<string, unknown>[] = [];
    nc.subscribe(`${ns}.ctl.all.trace`, {
      callback: (err, msg) => {
        if (err !== null) return;
        const req = parseJson<Record<string, unknown>>(msg.data);
        requests.push(req);
        msg.respond(json(answer(req)));
      },
    });
    await nc.flush();
    return requests;
  }

  it('cli trace show - asks the tracer for the chain and draws the tree from its records', async () => {
    const ns = uniqueNamespace();
    const chain = chainRecords().filter((r) => (r as { correlationId?: string }).correlationId === CHAIN);
    const requests = await standInTracer(ns, (req) => ({ kind: 'show', correlationId: req['correlationId'], records: chain }));
    const r = await aos(['trace', 'show', CHAIN, '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(r.code).toBe(0);
    expect(requests).toEqual([{ op: 'show', kind: 'show', correlationId: CHAIN }]);
    expect(r.stdout.split('\n')[0]).toBe(`chain ${CHAIN}: 3 messages, 4 participants, 3 failures, 1 denial, 1 dead letter; 22ms from 2024-05-01T10:42:01.120Z`);
  });

  it('cli trace stats - prints the tracer\'s table; an error answer exits 1 with its code', async () => {
    const ns = uniqueNamespace();
    await standInTracer(ns, (req) => (req['op'] === 'stats' ? { kind: 'stats', actors: [{ actor: 'echo/a', turns: 3, failures: 0, denials: 1, p50Ms: 1.5, p99Ms: 7 }] } : { error: { code: 'ERR_BAD_REQUEST', message: 'no' } }));
    const r = await aos(['trace', 'stats', '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]!.split(/\s+/)).toEqual(['echo/a', '3', '0', '1', '1.5ms', '7ms']);
    const bad = await aos(['trace', 'show', CHAIN, '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^aos: ERR_BAD_REQUEST: /);
  });

  it('cli trace stats - no tracer in the namespace exits 1 at once', async () => {
    const r = await aos(['trace', 'stats', '--nats', inject('natsUrl'), '--namespace', uniqueNamespace(), '--timeout', '60000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no node listens on \S+ in namespace t[0-9a-f]+/);
  });
});
