import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { startTracer, type DecisionRecord } from 'autonomy-os';
import { recordsOfLog, verifyLogFile } from 'autonomy-os/internal';
import { rawClient } from '../helpers/nats.js';
import { startSystem } from '../helpers/system.js';

const AGENT = new URL('../fixtures/broker/agent.ts', import.meta.url);

async function tempLog(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aos-trace-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
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
    const answer = await nc.request(`${ns}.ctl.all.trace`, new TextEncoder().encode(JSON.stringify({ kind: 'tail', actor: 'agent/a', limit: 5 })), { timeout: 10_000 });
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
});
