import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers } from 'nats';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { startTracer, type DecisionRecord, type EnvelopeRecord } from 'autonomy-os';
import { buildCausalTree, chainOf, recordsOfLog, verifyLogFile } from 'autonomy-os/internal';
import { rawClient } from '../helpers/nats.js';
import { startSystem } from '../helpers/system.js';

const AGENT = new URL('../fixtures/broker/agent.ts', import.meta.url);

async function tempLog(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aos-trace-'));
  // Retried: a tracer still shutting down may write its head file while the directory goes.
  onTestFinished(() => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  return join(dir, 'trace.log');
}

/** Every decision an agent made for `rounds` turns of `per` publishes each, in the log, exactly once. */
async function publishes(file: string, actor: string): Promise<string[]> {
  const records = recordsOfLog(await readFile(file, 'utf8'));
  return records.filter((r): r is DecisionRecord => r.type === 'decision' && r.actor === actor && r.action === 'publish').map((r) => `${r.messageId} ${r.target}`);
}

describe('trace delivery', () => {
  test('trace - while the tracer is stopped and restarted mid-traffic, every record reaches the log exactly once', async () => {
    const system = await startSystem({ threads: 2 });
    const ns = system.subjects.prefix;
    const file = await tempLog();
    await startTracer(system, { file });
    const agent = await system.spawn(AGENT, { type: 'agent', key: 'a' });
    const per = 20;
    const steps = (round: number) => Array.from({ length: per }, (_, i) => ({ op: 'publish', subject: `${ns}.evt.r${round}.n${i}`, value: i }));

    for (let round = 0; round < 3; round++) await agent.ask({ op: 'seq', steps: steps(round) });
    // The outage: the tracer stops (its supervisor starts it again); batches meanwhile are buffered and re-sent.
    const stopped = system.stop(`tracer/${system.nodeId}`);
    for (let round = 3; round < 6; round++) await agent.ask({ op: 'seq', steps: steps(round) });
    await stopped;
    for (let round = 6; round < 9; round++) await agent.ask({ op: 'seq', steps: steps(round) });

    await system.whenIdle();
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 15_000, interval: 50 });
    const seen = await publishes(file, 'agent/a');
    expect(seen).toHaveLength(9 * per);
    expect(new Set(seen).size).toBe(9 * per); // none twice
    expect(verifyLogFile(file).ok).toBe(true);

    // The same log, for any NATS client: the node hands the query to its tracer.
    const nc = await rawClient();
    const answer = await nc.request(`${ns}.ctl.all.trace`, new TextEncoder().encode(JSON.stringify({ kind: 'tail', actor: 'agent/a', type: 'decision', limit: 5 })), { timeout: 10_000 });
    const body = answer.json<{ kind: string; records: DecisionRecord[] }>();
    expect(body.kind).toBe('tail');
    expect(body.records).toHaveLength(5);
    for (const r of body.records) expect(r).toMatchObject({ type: 'decision', actor: 'agent/a' });
    const bad = await nc.request(`${ns}.ctl.all.trace`, new TextEncoder().encode(JSON.stringify({ kind: 'everything' })), { timeout: 10_000 });
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('ERR_BAD_REQUEST');
  });

  test('trace - with no tracer the node keeps the records (bounded) and hands them over when one starts', async () => {
    const system = await startSystem({ threads: 1 });
    const ns = system.subjects.prefix;
    const agent = await system.spawn(AGENT, { type: 'agent', key: 'b' });
    await agent.ask({ op: 'seq', steps: Array.from({ length: 10 }, (_, i) => ({ op: 'publish', subject: `${ns}.evt.x${i}`, value: i })) });
    await system.whenIdle();
    expect(system.traceBacklog).toBeGreaterThanOrEqual(10);
    const file = await tempLog();
    await startTracer(system, { file });
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 15_000, interval: 50 });
    expect(await publishes(file, 'agent/b')).toHaveLength(10);
  });

  test('trace - the benchmarks-only settings: tracing off keeps no records, unpublished ones are discarded, neither stops the node', async () => {
    for (const tracing of [false, 'unpublished'] as const) {
      const system = await startSystem({ threads: 1, tracing });
      const ns = system.subjects.prefix;
      const agent = await system.spawn(AGENT, { type: 'agent', key: 'c' });
      await agent.ask({ op: 'seq', steps: Array.from({ length: 10 }, (_, i) => ({ op: 'publish', subject: `${ns}.evt.y${i}`, value: i })) });
      await system.whenIdle();
      // With no tracer, a traced node would keep these records (the test above): here none wait.
      expect(system.traceBacklog, `tracing: ${String(tracing)}`).toBe(0);
    }
  });
});

describe('trace completeness', () => {
  test('trace - a chain from an outside client through two actors is in the log once per event, and rebuilds as its causal tree', async () => {
    const system = await startSystem({ threads: 2 });
    const ns = system.subjects.prefix;
    const file = await tempLog();
    await startTracer(system, { file });
    await system.spawn(new URL('../fixtures/relay.ts', import.meta.url), { type: 'relay', key: 'r', tasks: ['relay'] });
    await system.spawn(new URL('../fixtures/echo.ts', import.meta.url), { type: 'echo', key: 'e' });
    const nc = await rawClient();
    const traceId = 'ab'.repeat(16);
    // the client brings its own W3C traceparent: the chain's id is the client's trace id
    const h = headers();
    h.set('traceparent', `00-${traceId}-${'cd'.repeat(8)}-01`);
    await nc.request(`${ns}.task.relay`, new TextEncoder().encode(JSON.stringify({ op: 'ask', to: 'echo/e', value: { text: 'again' } })), { timeout: 10_000, headers: h });
    await system.whenIdle();
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 15_000, interval: 50 });

    const records = recordsOfLog(await readFile(file, 'utf8'));
    const chain = chainOf(records, traceId).filter((r): r is EnvelopeRecord => r.type === 'envelope');
    const events = chain.map((r) => `${r.event} ${r.actor} ${r.kind}`).sort();
    expect(events).toEqual(
      [
        // the task from the client, at relay/r
        'received relay/r task',
        'turn.started relay/r task',
        'turn.finished relay/r task',
        'replied relay/r task',
        // the ask relay/r made, sent by it and handled by echo/e
        'sent relay/r ask',
        'received echo/e ask',
        'turn.started echo/e ask',
        'turn.finished echo/e ask',
        'replied echo/e ask',
      ].sort(),
    );
    for (const r of chain) expect(r.traceparent).toBe(`00-${traceId}-${r.id}-01`);
    const task = chain.find((r) => r.kind === 'task')!;
    const ask = chain.find((r) => r.kind === 'ask')!;
    expect(task.causationId).toBe('cd'.repeat(8)); // the client's span
    expect(ask.causationId).toBe(task.id);
    const tree = buildCausalTree(chainOf(records, traceId));
    expect(tree.roots.map((n) => n.id)).toEqual([task.id]);
    expect(tree.roots[0]!.children.map((n) => n.id)).toEqual([ask.id]);
    expect(verifyLogFile(file).ok).toBe(true);
  });
});
