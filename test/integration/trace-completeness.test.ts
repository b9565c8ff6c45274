// The completeness test of issue 5: an outside client starts a multi-hop workflow with fan-out,
// a failure and restart, a denial and a dead letter, on a real node with a real tracer writing
// its hash-chained log; every message must be in the log exactly once per event, and both
// buildCausalTree and the built `aos trace show` must rebuild the exact causal tree.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers } from 'nats';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { defineSupervisor, parsePolicy, startTracer, type DecisionRecord, type EnvelopeRecord, type PolicyDoc, type TraceRecord } from 'autonomy-os';
import { buildCausalTree, chainOf, recordsOfLog, verifyLogFile, type CausalNode, type GovernanceRecord } from 'autonomy-os/internal';
import { rawClient } from '../helpers/nats.js';
import { runAos } from '../helpers/processes.js';
import { startSystem, uniqueNamespace } from '../helpers/system.js';

const COORDINATOR = new URL('../fixtures/trace/coordinator.ts', import.meta.url);
const WORKER = new URL('../fixtures/trace/worker.ts', import.meta.url);
const SINK = new URL('../fixtures/trace/sink.ts', import.meta.url);

const TRACE_ID = '5e'.repeat(16);
const CLIENT_SPAN = 'c1'.repeat(8);

/** Grants exactly what the workflow needs; the coordinator may publish progress events, not `<ns>.evt.secret`. */
function workflowPolicy(ns: string): PolicyDoc {
  return parsePolicy({
    name: 'trace completeness',
    roles: {
      coordinator: {
        subscribe: { allow: [`${ns}.task.coord`], deny: [] },
        ask: { allow: [`${ns}.actor.worker.*`], deny: [] },
        tell: { allow: [`${ns}.actor.ghost.*`], deny: [] },
        publish: { allow: [`${ns}.evt.progress.>`], deny: [] },
      },
      worker: { tell: { allow: [`${ns}.actor.sink.*`], deny: [] } },
      sink: {},
      tracer: { subscribe: { allow: [`${ns}.trace.>`], deny: [] } },
    },
    actors: { coordinator: { role: 'coordinator', owner: 'ops' }, worker: { role: 'worker' }, sink: { role: 'sink' }, tracer: { role: 'tracer' } },
  });
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aos-trace-complete-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })); // a tracer still stopping may write meanwhile
  return dir;
}


const isEnvelope = (r: TraceRecord): r is EnvelopeRecord => r.type === 'envelope';

/** The tree as edges `parent -> child: kind from -> to`, the messages named by label. */
function edges(roots: readonly CausalNode[], label: (id: string) => string): string[] {
  const out: string[] = [];
  const walk = (n: CausalNode, parent: string) => {
    out.push(`${parent} -> ${label(n.id)}: ${n.kind} ${n.from} -> ${n.to}`);
    for (const c of n.children) walk(c, label(n.id));
  };
  for (const r of roots) walk(r, '(root)');
  return out.sort();
}

describe('trace completeness', () => {
  test('trace - a workflow with fan-out, a failure and restart, a denial and a dead letter is in the log once per event and rebuilds as its causal tree', async () => {
    const namespace = uniqueNamespace();
    const ns = namespace;
    const system = await startSystem({ namespace, threads: 2, policy: workflowPolicy(ns) });
    const dir = await tempDir();
    const file = join(dir, 'trace.log');
    await startTracer(system, { file });
    await system.supervise(
      defineSupervisor({
        name: 'workers',
        strategy: 'one_for_one',
        children: [
          { module: WORKER, type: 'worker', key: 'a', restart: 'permanent' },
          { module: WORKER, type: 'worker', key: 'b', restart: 'permanent' },
          { module: SINK, type: 'sink', key: 's', restart: 'permanent' },
        ],
      }),
    );
    await system.spawn(COORDINATOR, { type: 'coordinator', key: 'c', tasks: ['coord'] });

    // The outside client brings its W3C traceparent: the chain's id is its trace id.
    const nc = await rawClient();
    const h = headers();
    h.set('traceparent', `00-${TRACE_ID}-${CLIENT_SPAN}-01`);
    const task = {
      op: 'run',
      jobs: [
        { to: 'worker/a', job: 'parse', forward: 'sink/s' },
        { to: 'worker/b', job: 'price', failOnce: join(dir, 'worker-b-failed') },
      ],
      forbidden: `${ns}.evt.secret`,
      ghost: 'ghost/g',
    };
    const answer = await nc.request(`${ns}.task.coord`, new TextEncoder().encode(JSON.stringify(task)), { timeout: 15_000, headers: h });
    expect(answer.json()).toEqual({ results: [{ job: 'parse', by: 'worker/a' }, { job: 'price', by: 'worker/b' }], denied: 'ERR_DENIED' });

    // Everything handled, and every record acknowledged by the tracer; the ghost's dead letter
    // comes when NATS reports that nothing serves it, so the log is read until it is there.
    await system.whenIdle();
    let records: TraceRecord[] = [];
    await vi.waitFor(
      async () => {
        expect(system.traceBacklog).toBe(0);
        records = recordsOfLog(await readFile(file, 'utf8'));
        expect(chainOf(records, TRACE_ID).some((r) => isEnvelope(r) && r.event === 'dead-lettered')).toBe(true);
      },
      { timeout: 15_000, interval: 50 },
    );
    expect(verifyLogFile(file).ok).toBe(true);

    const chain = chainOf(records, TRACE_ID);
    const envelopes = chain.filter(isEnvelope);

    // ---- the messages of the chain, named by what their senders recorded ------------------
    const sent = envelopes.filter((r) => r.event === 'sent');
    expect(sent.map((r) => `${r.actor} ${r.kind} ${r.from} -> ${r.to}`).sort()).toEqual(
      ['coordinator/c ask coordinator/c -> worker/a', 'coordinator/c ask coordinator/c -> worker/b', 'coordinator/c tell coordinator/c -> ghost/g', 'worker/a tell worker/a -> sink/s'].sort(),
    );
    const root = envelopes.filter((r) => r.kind === 'task');
    expect(new Set(root.map((r) => r.id)).size).toBe(1);
    const taskId = root[0]!.id;
    const idOf = (from: string, to: string) => sent.find((r) => r.from === from && r.to === to)!.id;
    const ids: Record<string, string> = {
      task: taskId,
      askA: idOf('coordinator/c', 'worker/a'),
      askB: idOf('coordinator/c', 'worker/b'),
      tellGhost: idOf('coordinator/c', 'ghost/g'),
      tellSink: idOf('worker/a', 'sink/s'),
    };
    const labels = new Map(Object.entries(ids).map(([k, v]) => [v, k]));
    expect(labels.size).toBe(5);
    const label = (id: string) => labels.get(id) ?? `unknown message ${id}`;

    // Each message's identity is the same in every record of it, and its traceparent names the chain.
    const parents: Record<string, string | null> = { task: CLIENT_SPAN, askA: taskId, askB: taskId, tellGhost: taskId, tellSink: ids['askA']! };
    const shape: Record<string, string> = {
      task: `task external -> ${ns}.task.coord`,
      askA: 'ask coordinator/c -> worker/a',
      askB: 'ask coordinator/c -> worker/b',
      tellGhost: 'tell coordinator/c -> ghost/g',
      tellSink: 'tell worker/a -> sink/s',
    };
    for (const r of envelopes) {
      const l = label(r.id);
      expect(`${l}: ${r.kind} ${r.from} -> ${r.to}`).toBe(`${l}: ${shape[l]}`);
      expect(r.causationId).toBe(parents[l]);
      expect(r.correlationId).toBe(TRACE_ID);
      expect(r.traceparent).toBe(`00-${TRACE_ID}-${r.id}-01`);
      expect(r.node).toBe(system.nodeId);
    }

    // ---- every event exactly once: sent once, received/turn once per attempt, replied once -----
    const FAIL = 'ERR_HANDLER_FAILED';
    const events = envelopes.map((r) => `${label(r.id)} ${r.event} ${r.actor} #${r.attempt ?? 0}${r.outcome === undefined ? '' : ` ${r.outcome}`}`).sort();
    expect(events).toEqual(
      [
        // the client's task at the coordinator (the client records nothing: it is not a node)
        'task received coordinator/c #0',
        'task turn.started coordinator/c #0',
        'task turn.finished coordinator/c #0 ok',
        'task replied coordinator/c #0 ok',
        // fan-out 1: worker/a answers, and tells the sink (a third hop)
        'askA sent coordinator/c #0',
        'askA received worker/a #0',
        'askA turn.started worker/a #0',
        'askA turn.finished worker/a #0 ok',
        'askA replied worker/a #0 ok',
        'tellSink sent worker/a #0',
        'tellSink received sink/s #0',
        'tellSink turn.started sink/s #0',
        'tellSink turn.finished sink/s #0 ok',
        // fan-out 2: worker/b fails its first attempt, is restarted, and the retry succeeds
        'askB sent coordinator/c #0',
        'askB received worker/b #0',
        'askB turn.started worker/b #0',
        `askB turn.finished worker/b #0 ${FAIL}`,
        `askB failed worker/b #0 ${FAIL}`,
        `askB retried worker/b #1 ${FAIL}`,
        'askB received worker/b #1',
        'askB turn.started worker/b #1',
        'askB turn.finished worker/b #1 ok',
        'askB replied worker/b #1 ok',
        // the tell to an actor that runs nowhere
        'tellGhost sent coordinator/c #0',
        'tellGhost dead-lettered ghost/g #0 ERR_UNKNOWN_ACTOR',
      ].sort(),
    );
    // and in causal order where one event implies another
    const at = (l: string, event: string, attempt = 0) => envelopes.find((r) => r.id === ids[l] && r.event === event && (r.attempt ?? 0) === attempt)!.at;
    expect(at('askB', 'failed')).toBeLessThanOrEqual(at('askB', 'retried', 1));
    expect(at('askB', 'retried', 1)).toBeLessThanOrEqual(at('askB', 'turn.started', 1));
    expect(at('askB', 'sent')).toBeLessThanOrEqual(at('askB', 'received'));
    const finishedB = envelopes.filter((r) => r.id === ids['askB'] && r.event === 'turn.finished');
    for (const f of finishedB) expect(f.durationMs).toBeGreaterThanOrEqual(0);

    // ---- decisions: each action of the chain decided once, the publish denied ---------------
    const decisions = chain.filter((r): r is DecisionRecord => r.type === 'decision');
    const denied = decisions.filter((d) => !d.allow);
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ actor: 'coordinator/c', role: 'coordinator', owner: 'ops', action: 'publish', target: `${ns}.evt.secret`, reason: 'not-granted', messageId: taskId, correlationId: TRACE_ID });
    expect(decisions.filter((d) => d.allow).map((d) => `${d.actor} ${d.action} ${d.target} in ${label(d.messageId ?? '')}`).sort()).toEqual(
      [
        `coordinator/c ask ${ns}.actor.worker.a in task`,
        `coordinator/c ask ${ns}.actor.worker.b in task`,
        `coordinator/c tell ${ns}.actor.ghost.g in task`,
        `worker/a tell ${ns}.actor.sink.s in askA`,
      ].sort(),
    );
    // nothing was published anywhere for the denied action: no 'sent' of kind event in the chain
    expect(sent.some((r) => r.kind === 'event')).toBe(false);

    // ---- supervision: one crash report and one restart of worker/b, by its supervisor ------
    const supervision = records.filter((r): r is GovernanceRecord => r.type === 'supervision');
    expect(supervision.map((r) => `${String(r['supervisor'])} ${String(r['context'])} ${String(r['actor'])} ${(r['reason'] as { code: string }).code}`)).toEqual([
      `workers child_terminated worker/b ${FAIL}`,
      `workers restart worker/b ${FAIL}`,
    ]);
    // The crash and the restart join the failed message's chain.
    expect(chain.filter((r): r is GovernanceRecord => r.type === 'supervision').map((r) => [r['context'], r['messageId']])).toEqual([
      ['child_terminated', ids['askB']],
      ['restart', ids['askB']],
    ]);

    // ---- the causal tree --------------------------------------------------------------------
    const tree = buildCausalTree(chain);
    expect(tree.roots.map((n) => label(n.id))).toEqual(['task']);
    expect(tree.unattached).toEqual([]);
    expect(edges(tree.roots, label)).toEqual(
      [
        `(root) -> task: task external -> ${ns}.task.coord`,
        'task -> askA: ask coordinator/c -> worker/a',
        'task -> askB: ask coordinator/c -> worker/b',
        'task -> tellGhost: tell coordinator/c -> ghost/g',
        'askA -> tellSink: tell worker/a -> sink/s',
      ].sort(),
    );
    // the root's children are exactly the messages the coordinator sent
    const top = tree.roots[0]!;
    expect(top.children.map((n) => n.id).sort()).toEqual(sent.filter((r) => r.actor === 'coordinator/c').map((r) => r.id).sort());
    expect(top.sentAt).toBeNull(); // an outside client records nothing
    expect(top.outcome).toBe('ok');
    expect(top.denials.map((d) => `${d.action} ${d.target}`)).toEqual([`publish ${ns}.evt.secret`]);
    const node = (l: string) => {
      const all: CausalNode[] = [];
      const walk = (n: CausalNode) => (all.push(n), n.children.forEach(walk));
      tree.roots.forEach(walk);
      return all.find((n) => n.id === ids[l])!;
    };
    const b = node('askB');
    expect(b.handlers).toHaveLength(1);
    expect(b.handlers[0]).toMatchObject({ actor: 'worker/b', turns: 2, retries: 1, outcome: 'ok', replied: 'ok', deadLettered: null, failures: [{ code: FAIL, attempt: 0 }] });
    expect(b.outcome).toBe('ok');
    const ghost = node('tellGhost');
    expect(ghost.handlers).toHaveLength(1);
    expect(ghost.handlers[0]).toMatchObject({ actor: 'ghost/g', turns: 0, receivedAt: null, deadLettered: { code: 'ERR_UNKNOWN_ACTOR' } });
    expect(ghost.outcome).toBe('dead-lettered');
    expect(node('tellSink').handlers.map((h) => `${h.actor} ${h.outcome} ${h.replied}`)).toEqual(['sink/s ok null']);

    // ---- `aos trace show`: the same tree, as a person reads it ------------------------------
    const shown = await runAos(['trace', 'show', TRACE_ID, '--file', file]);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    const out = shown.stdout;
    expect(out.split('\n')[0]).toMatch(new RegExp(`^chain ${TRACE_ID}: 5 messages, \\d+ participants, 1 failure, 1 denial, 1 dead letter;`));
    for (const who of ['external', 'coordinator/c', 'worker/a', 'worker/b', 'sink/s', 'ghost/g']) expect(out).toContain(who);
    expect(out).toContain(`worker/b: turn FAILED after`);
    expect(out).toContain(`: ${FAIL}`);
    expect(out).toContain(`worker/b: retry 1 after ${FAIL}`);
    expect(out).toContain('worker/b: turn ok in');
    expect(out).toContain(`DENIED coordinator/c: publish ${ns}.evt.secret (not-granted;`);
    expect(out).toContain('ghost/g: DEAD-LETTERED ERR_UNKNOWN_ACTOR');
    expect(out).toContain(`RESTART worker/b by workers (${FAIL})`);

    // Its tree, read back from the indentation of the message lines, is the same tree.
    const messageLine = /^ *\+\S+ {2}( *)(\w+) (\S+) -> (.+?)(?: on \S+)?, \d+ B {2}\[msg ([0-9a-f]+)\]$/;
    const stack: string[] = [];
    const shownEdges: string[] = [];
    for (const line of out.split('\n')) {
      const m = messageLine.exec(line);
      if (m === null) continue;
      const depth = m[1]!.length / 2;
      const l = label(m[5]!);
      stack.length = depth;
      shownEdges.push(`${depth === 0 ? '(root)' : stack[depth - 1]} -> ${l}: ${m[2]} ${m[3]} -> ${m[4]}`);
      stack.push(l);
    }
    expect(shownEdges.sort()).toEqual(
      [
        // `aos trace show` names a message's receivers (the task's: coordinator/c, not its subject)
        '(root) -> task: task external -> coordinator/c',
        'task -> askA: ask coordinator/c -> worker/a',
        'task -> askB: ask coordinator/c -> worker/b',
        'task -> tellGhost: tell coordinator/c -> ghost/g',
        'askA -> tellSink: tell worker/a -> sink/s',
      ].sort(),
    );
  });
});
