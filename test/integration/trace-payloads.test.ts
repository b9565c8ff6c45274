// Payloads in the trace, by policy: a message on a subject the policy names has its payload
// recorded once, decoded and with the policy's field paths masked; messages on other subjects
// have none recorded.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { startTracer, type EnvelopeRecord, type PolicyDoc } from 'autonomy-os';
import { recordsOfLog, verifyLogFile, type PayloadRecord } from 'autonomy-os/internal';
import { json, parseJson, rawClient } from '../helpers/nats.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

async function tempLog(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aos-trace-payloads-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })); // a tracer still stopping may write meanwhile
  return join(dir, 'trace.log');
}

function policyFor(ns: string): PolicyDoc {
  const none = { allow: [], deny: [] };
  const only = (allow: string[]) => ({ publish: none, subscribe: { allow, deny: [] }, tell: none, ask: none, tools: none, spawn: none, budgets: [], approvals: [], audit: [] });
  return {
    name: 'payloads',
    roles: { signup: only([`${ns}.task.signup`]), other: only([`${ns}.task.other`]), tracer: only([`${ns}.trace.>`]) },
    actors: { signup: { role: 'signup' }, other: { role: 'other' }, tracer: { role: 'tracer' } },
    trace: { payloads: { subjects: [`${ns}.task.signup`] }, mask: ['password', 'card.number'] },
  };
}

describe('trace payloads', () => {
  test('trace payloads - the policy names the subjects whose payloads are recorded, masked by its field paths', async () => {
    const ns = uniqueNamespace();
    const system = await startSystem({ namespace: ns, policy: policyFor(ns) });
    const file = await tempLog();
    await startTracer(system, { file });
    await system.spawn(fixture('echo.ts'), { type: 'signup', key: 's', tasks: ['signup'] });
    await system.spawn(fixture('echo.ts'), { type: 'other', key: 'o', tasks: ['other'] });

    const nc = await rawClient();
    const signup = { text: 'hello', email: 'ann@example.com', password: 'hunter2', card: { number: '4111111111111111', expiry: '12/30' }, tags: ['a', 'b'] };
    const a = await nc.request(`${ns}.task.signup`, json(signup), { timeout: 10_000 });
    expect(parseJson<{ text: string }>(a.data).text).toBe('hello');
    const b = await nc.request(`${ns}.task.other`, json({ text: 'other', password: 'not recorded either' }), { timeout: 10_000 });
    expect(parseJson<{ text: string }>(b.data).text).toBe('other');

    await system.whenIdle();
    await vi.waitFor(() => expect(system.traceBacklog).toBe(0), { timeout: 15_000, interval: 50 });
    const records = recordsOfLog(await readFile(file, 'utf8'));
    const payloads = records.filter((r) => (r as { type: string }).type === 'payload') as unknown as PayloadRecord[];
    expect(payloads).toHaveLength(1);
    const [p] = payloads;
    expect(p!.value).toEqual({ text: 'hello', email: 'ann@example.com', password: '***', card: { number: '***', expiry: '12/30' }, tags: ['a', 'b'] });
    expect(p).toMatchObject({ node: system.nodeId, actor: 'signup/s', subject: `${ns}.task.signup` });

    // It belongs to the message's own records: same id and chain as its `received` record.
    const received = records.filter((r): r is EnvelopeRecord => r.type === 'envelope' && r.event === 'received');
    const signupReceived = received.find((r) => r.subject === `${ns}.task.signup`)!;
    expect(p).toMatchObject({ id: signupReceived.id, correlationId: signupReceived.correlationId, at: signupReceived.at });
    // The other message was handled and traced, but its payload was not recorded.
    expect(received.some((r) => r.subject === `${ns}.task.other`)).toBe(true);
    expect(JSON.stringify(records)).not.toContain('hunter2');
    expect(JSON.stringify(records)).not.toContain('not recorded either');
    expect(verifyLogFile(file).ok).toBe(true);
  });
});
