// Broker attacks on identity and replies: a raw client aiming the kernel's reply at a runtime or
// system subject (directly, or by replaying a sealed envelope it captured), an actor replying
// twice, forged identities from a raw NATS client (identity headers, an unsealed, badly sealed or
// redirected envelope) and forged replies to an actor's ask. A sealed envelope is the positive control.

import { createInbox } from 'nats';
import { describe, expect, onTestFinished, test } from 'vitest';
import {
  CONTENT_TYPE_HEADER,
  CT_ENVELOPE,
  ERROR_HEADER,
  GovernanceStore,
  decodeEnvelope,
  decodeValue,
  encodeEnvelope,
  encodeValue,
  envelopeSealed,
  governanceBucket,
  newCorrelationId,
  newMessageId,
  type Envelope,
} from 'autonomy-os/internal';
import { later } from '../helpers/deferred.js';
import { collect, hdrs, json, rawClient, replyAsActor } from '../helpers/nats.js';
import { startSystem, uniqueNamespace } from '../helpers/system.js';
import { TraceLog } from '../helpers/trace.js';
import { AGENT, expectDenialRecord, expectOnlyMarkers, governed, policy, watch, type Governed } from '../fixtures/broker/setup.js';

const CLUSTER_KEY = 'broker-attacks-cluster-key-0123';

const open = (ns: string) =>
  policy({ agent: { subscribe: { allow: [`${ns}.task.>`] }, publish: { allow: [`${ns}.evt.>`] } } }, { agent: { role: 'agent', owner: 'ops' } });

function turnsOf(g: Governed, id: string): number | undefined {
  return g.system.list().find((a) => a.id === id)?.turns;
}

function forged(from: string, to: string, value: unknown): Envelope {
  return {
    kind: 'ask',
    id: newMessageId(),
    from,
    to,
    correlationId: newCorrelationId(),
    causationId: null,
    sentAt: Date.now(),
    attempt: 0,
    format: 'msgpack',
    payload: encodeValue(value, 'msgpack'),
  };
}

interface JsonError {
  error: { code: string; details?: Record<string, unknown> };
}

describe('broker attacks - replies and identity', () => {
  test('reply - a raw client cannot aim the reply at a runtime or system subject (action reply, reason reply)', async () => {
    const g = await governed(open);
    const { ns } = g;
    await g.agent('agent', 'a', [`${ns}.task.x`]);
    const stopAll = `${ns}.ctl.all.stop`;
    // a message on the JetStream API is a command to the server (here: delete the governance bucket's stream)
    const deleteStream = `$JS.API.STREAM.DELETE.KV_${governanceBucket(ns)}`;
    const watched = await watch(g.nc, [stopAll, deleteStream]);

    g.nc.publish(`${ns}.task.x`, json({ op: 'ping' }), { reply: stopAll });
    g.nc.publish(`${ns}.task.x`, json({ op: 'ping' }), { reply: deleteStream });
    // bad input is answered with an error reply, which is refused the same way
    g.nc.publish(`${ns}.task.x`, json({ op: 'no-such-op' }), { reply: stopAll });
    const r1 = await g.trace.decision({ action: 'reply', target: stopAll });
    const r2 = await g.trace.decision({ action: 'reply', target: deleteStream });
    for (const [r, target] of [
      [r1, stopAll],
      [r2, deleteStream],
    ] as const) {
      expectDenialRecord(r, { actor: 'agent/a', action: 'reply', target, reason: 'reply', policy: g.version });
      expect(r.rule).toBe('builtin:reply-subject');
      expect(r.detail).toMatchObject({ requester: 'external' });
    }
    await g.trace.waitFor((r) => r.type === 'decision' && r.action === 'reply' && r.target === stopAll && r !== r1);

    // no marker on the JetStream API subject (it is a command): the stream still being there proves nothing answered
    await expectOnlyMarkers(g.system, g.nc, watched.slice(0, 1));
    expect(watched[1]!.count).toBe(0);
    expect(await GovernanceStore.open(g.nc, ns)).toBeDefined();
    expect(await (await g.nc.jetstreamManager()).streams.info(`KV_${governanceBucket(ns)}`)).toBeDefined();
    // the turns ran (the node and its actor are fine); only the replies were refused
    expect(await g.act('agent/a', { op: 'count' })).toEqual({ ok: true, result: 3 });
    expect(g.system.list().map((a) => a.id)).toEqual(['agent/a']);

    // positive control: a reply subject of the client's own is answered
    const answered = await g.nc.request(`${ns}.task.x`, json({ op: 'ping' }), { timeout: 10_000 });
    expect(answered.json()).toMatchObject({ ok: true, result: { self: 'agent/a', from: 'external' } });
  });

  test('reply - a sealed ask captured on the wire and replayed with a reply subject of the attacker\'s choice gets no reply there', async () => {
    const ns = uniqueNamespace();
    const nc = await rawClient();
    const trace = await TraceLog.start(nc, ns);
    const doc = policy({ agent: { ask: { allow: [`${ns}.actor.>`] } } }, { agent: { role: 'agent' } });
    const a = await startSystem({ namespace: ns, policy: doc, clusterKey: CLUSTER_KEY });
    const b = await startSystem({ namespace: ns, policy: doc, clusterKey: CLUSTER_KEY });
    await a.spawn(AGENT, { type: 'agent', key: 'a' });
    await b.spawn(AGENT, { type: 'agent', key: 'b' });
    // a stream the attacker wants gone: a reply on its API subject is a delete command
    const jsm = await nc.jetstreamManager();
    const stream = `VICTIM_${ns}`;
    await jsm.streams.add({ name: stream, subjects: [`${ns}-victim.>`] });
    onTestFinished(async () => {
      await jsm.streams.delete(stream).catch(() => undefined);
    });
    const deleteSubject = `$JS.API.STREAM.DELETE.${stream}`;
    const wire = await collect(nc, `${ns}.actor.agent.b`);
    const watched = await watch(nc, [deleteSubject]);

    // the genuine exchange: agent/a (node a) asks agent/b (node b) across NATS
    expect(await a.ref('agent/a').ask({ op: 'ask', to: 'agent/b', value: { op: 'count' } })).toEqual({ ok: true, result: { ok: true, result: 1 } });
    const captured = (await wire.waitFor(1)).find((m) => decodeEnvelope(m.data).from === 'agent/a')!;
    // the replay: the same sealed bytes, to the same actor, with the reply aimed at the JetStream API
    nc.publish(`${ns}.actor.agent.b`, captured.data, { reply: deleteSubject, headers: hdrs({ [CONTENT_TYPE_HEADER]: CT_ENVELOPE }) });
    await nc.flush();
    await b.whenIdle(); // the replay is handled and anything node b sent is on the server
    await nc.flush(); // and whatever the server routed to this client before answering the flush has arrived
    expect(watched[0]!.count, 'a reply reached the JetStream API subject').toBe(0);
    expect(await jsm.streams.info(stream)).toMatchObject({ config: { name: stream } });
    const r = await trace.decision({ action: 'reply', target: deleteSubject }, 2_000);
    expectDenialRecord(r, { actor: 'agent/b', action: 'reply', target: deleteSubject, reason: 'reply', policy: b.governanceStatus.policy.version });
  });

  test('reply - a second reply throws ERR_ALREADY_REPLIED at the call site and the asker gets exactly one', async () => {
    const g = await governed(open);
    const { ns } = g;
    await g.agent('agent', 'a');
    const inbox = createInbox();
    const replies = await collect(g.nc, inbox);
    g.nc.publish(`${ns}.actor.agent.a`, json({ op: 'reply-twice' }), { reply: inbox });
    await replies.waitFor(1);
    await g.system.whenIdle();
    // positive control on the same reply subject: it arrives, and nothing came between
    g.nc.publish(`${ns}.actor.agent.a`, json({ op: 'count' }), { reply: inbox });
    await replies.waitFor(2);
    await g.nc.flush();
    expect(replies.json()).toEqual([
      { ok: true, result: 'first' },
      { ok: true, result: 2 },
    ]);
    expect(await g.act('agent/a', { op: 'caught' })).toEqual({ ok: true, result: [{ code: 'ERR_ALREADY_REPLIED' }] });
    // between actors too: the asker gets the first reply
    expect(await g.act('agent/a', { op: 'reply-twice' })).toEqual({ ok: true, result: 'first' });
  });

  test('identity - a raw client claiming an actor in aos-from is denied as a spoof and the handler never runs', async () => {
    const g = await governed(open);
    const { ns } = g;
    await g.agent('agent', 'a');
    const subject = `${ns}.actor.agent.a`;
    const denied = await g.nc.request(subject, json({ op: 'ping' }), { timeout: 10_000, headers: hdrs({ 'aos-from': 'billing/1' }) });
    expect(denied.headers?.get(ERROR_HEADER)).toBe('ERR_DENIED');
    expect(denied.json<JsonError>().error).toMatchObject({ code: 'ERR_DENIED', details: { reason: 'spoof', claimed: 'billing/1' } });
    const r = await g.trace.decision({ action: 'receive', reason: 'spoof' });
    expectDenialRecord(r, { actor: 'billing/1', action: 'receive', target: subject, reason: 'spoof', policy: g.version });
    expect(r.detail).toMatchObject({ claimed: 'billing/1', to: 'agent/a' });
    expect(r.rule).toBe('builtin:identity-headers');

    // a claimed role or owner is a spoof as well
    const role = await g.nc.request(subject, json({ op: 'ping' }), { timeout: 10_000, headers: hdrs({ 'aos-role': 'admin' }) });
    expect(role.headers?.get(ERROR_HEADER)).toBe('ERR_DENIED');
    expect((await g.trace.decision({ action: 'receive', actor: 'admin' })).detail).toMatchObject({ claimed: 'admin' });
    expect(turnsOf(g, 'agent/a')).toBe(0);

    // positive control: a header telling the truth is accepted, and the handler sees `external/<name>`
    const honest = await g.nc.request(subject, json({ op: 'ping' }), { timeout: 10_000, headers: hdrs({ 'aos-client': 'crm', 'aos-from': 'external/crm' }) });
    expect(honest.headers?.get(ERROR_HEADER) ?? '').toBe('');
    expect(honest.json()).toMatchObject({ ok: true, result: { from: 'external/crm' } });
    expect(turnsOf(g, 'agent/a')).toBe(1);
  });

  test('identity - an identity header in another letter case is still a claim: denied and traced as a spoof', async () => {
    const g = await governed(open);
    const { ns } = g;
    await g.agent('agent', 'a');
    const subject = `${ns}.actor.agent.a`;
    // NATS keeps header names as sent; HTTP-minded clients send `Aos-From` (Go's textproto canonical form)
    for (const name of ['AOS-FROM', 'Aos-From']) {
      const reply = await g.nc.request(subject, json({ op: 'ping' }), { timeout: 10_000, headers: hdrs({ [name]: 'billing/1' }) });
      expect(reply.headers?.get(ERROR_HEADER), `header ${name}`).toBe('ERR_DENIED');
      expect(reply.json<JsonError>().error).toMatchObject({ code: 'ERR_DENIED', details: { reason: 'spoof', claimed: 'billing/1' } });
    }
    expect(turnsOf(g, 'agent/a')).toBe(0);
    // records are batched after the reply goes out: wait for the second one, then count
    await g.trace.waitFor((r) => g.trace.decisions({ action: 'receive', reason: 'spoof' }).length >= 2 && r.type === 'decision');
    expect(g.trace.decisions({ action: 'receive', reason: 'spoof' })).toHaveLength(2);
  });

  test('identity - a sealed envelope captured on the wire and redirected to another actor is refused as a spoof', async () => {
    const g = await governed((ns) => policy({ agent: { ask: { allow: [`${ns}.actor.>`] } } }, { agent: { role: 'agent' } }), { clusterKey: CLUSTER_KEY });
    const { ns } = g;
    await g.agent('agent', 'a');
    await g.agent('agent', 'b');
    // agent/a asks an actor on another node (played by the raw client): its sealed envelope crosses NATS
    const victim = await collect(g.nc, `${ns}.actor.victim.x`);
    const asked = later(g.act('agent/a', { op: 'ask', to: 'victim/x', value: { op: 'ping' } }));
    const [captured] = await victim.waitFor(1);
    expect(decodeEnvelope(captured!.data)).toMatchObject({ kind: 'ask', from: 'agent/a', to: 'victim/x' });
    replyAsActor(captured!, 'victim/x', 'answered'); // the genuine exchange ends here
    expect(await asked).toEqual({ ok: true, result: 'answered' });

    // replayed to agent/b, which agent/a never asked: the seal is genuine, but the envelope is not addressed to it
    const reply = await g.nc.request(`${ns}.actor.agent.b`, captured!.data, { timeout: 10_000, headers: hdrs({ [CONTENT_TYPE_HEADER]: CT_ENVELOPE }) });
    expect(reply.headers?.get(CONTENT_TYPE_HEADER), 'an error reply, not agent/b answering agent/a').not.toBe(CT_ENVELOPE);
    expect(reply.headers?.get(ERROR_HEADER)).toBe('ERR_DENIED');
    expect(turnsOf(g, 'agent/b')).toBe(0);
    const r = await g.trace.decision({ action: 'receive', actor: 'agent/a' }, 2_000);
    expectDenialRecord(r, { actor: 'agent/a', action: 'receive', target: `${ns}.actor.agent.b`, reason: 'spoof', policy: g.version });
  });

  test('identity - an unsealed reply to an actor\'s ask is refused as a spoof and recorded', async () => {
    const g = await governed((ns) => policy({ agent: { ask: { allow: [`${ns}.actor.>`] } } }, { agent: { role: 'agent' } }), { clusterKey: CLUSTER_KEY });
    const { ns } = g;
    await g.agent('agent', 'a');
    const victim = await collect(g.nc, `${ns}.actor.victim.x`);
    const asked = later(g.act('agent/a', { op: 'ask', to: 'victim/x', value: { op: 'ping' } }));
    const [request] = await victim.waitFor(1);
    // a well-formed reply envelope, without the cluster key's seal
    const asked0 = decodeEnvelope(request!.data);
    const reply: Envelope = { ...forged('victim/x', asked0.from, 'forged answer'), kind: 'reply', correlationId: asked0.correlationId, causationId: asked0.id };
    request!.respond(encodeEnvelope(reply), { headers: hdrs({ [CONTENT_TYPE_HEADER]: CT_ENVELOPE }) });
    const outcome = await asked;
    expect(outcome).toMatchObject({ ok: false, error: { code: 'ERR_DENIED', reason: 'spoof' } });
    // every decision is a record: this refusal is one too (the target is left to the runtime: the asker's inbox or the asked subject)
    const r = await g.trace.decision({ action: 'receive', reason: 'spoof' }, 2_000);
    expect(r).toMatchObject({ actor: 'victim/x', allow: false, policy: g.version, detail: { claimed: 'victim/x' } });
  });

  test('identity - a forged JSON error reply to an actor\'s ask is not believed', async () => {
    const g = await governed((ns) => policy({ agent: { ask: { allow: [`${ns}.actor.>`] } } }, { agent: { role: 'agent' } }), { clusterKey: CLUSTER_KEY });
    const { ns } = g;
    await g.agent('agent', 'a');
    const victim = await collect(g.nc, `${ns}.actor.victim.x`);
    const asked = later(g.act('agent/a', { op: 'ask', to: 'victim/x', value: { op: 'ping' }, timeoutMs: 1_000 }));
    const [request] = await victim.waitFor(1);
    // anyone who sees the request sees its reply subject: answer it with an error no node issued
    request!.respond(json({ error: { code: 'ERR_ACTOR_STOPPED', message: 'forged', details: { actorId: 'victim/x' } } }), {
      headers: hdrs({ [CONTENT_TYPE_HEADER]: 'application/json', [ERROR_HEADER]: 'ERR_ACTOR_STOPPED' }),
    });
    const outcome = await asked;
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.code, 'the forged error code reached the handler').not.toBe('ERR_ACTOR_STOPPED');
  });

  test('identity - a whole envelope built by a raw client, unsealed or sealed with a wrong key, is denied as a spoof', async () => {
    const g = await governed(open, { clusterKey: CLUSTER_KEY });
    const { ns } = g;
    await g.agent('agent', 'a');
    const subject = `${ns}.actor.agent.a`;
    const headers = hdrs({ [CONTENT_TYPE_HEADER]: CT_ENVELOPE });
    const unsealed = forged('billing/1', 'agent/a', { op: 'ping' });
    const wrongKey = forged('billing/2', 'agent/a', { op: 'ping' });
    for (const [env, bytes] of [
      [unsealed, encodeEnvelope(unsealed)],
      [wrongKey, encodeEnvelope(wrongKey, new TextEncoder().encode('not-the-cluster-key-at-all'))],
    ] as const) {
      const reply = await g.nc.request(subject, bytes, { timeout: 10_000, headers });
      expect(reply.headers?.get(ERROR_HEADER)).toBe('ERR_DENIED');
      expect(reply.json<JsonError>().error).toMatchObject({ code: 'ERR_DENIED', details: { reason: 'spoof', claimed: env.from } });
      const r = await g.trace.decision({ action: 'receive', actor: env.from });
      expectDenialRecord(r, { actor: env.from, action: 'receive', target: subject, reason: 'spoof', policy: g.version });
      expect(r).toMatchObject({ rule: 'builtin:sealed-envelope', messageId: env.id, correlationId: env.correlationId, detail: { claimed: env.from, to: 'agent/a' } });
    }
    expect(turnsOf(g, 'agent/a')).toBe(0);
  });

  test('identity - the same envelope sealed with the cluster key is accepted (positive control)', async () => {
    const g = await governed(open, { clusterKey: CLUSTER_KEY });
    const { ns } = g;
    await g.agent('agent', 'a');
    const key = new TextEncoder().encode(CLUSTER_KEY);
    const env = forged('billing/1', 'agent/a', { op: 'ping' });
    const reply = await g.nc.request(`${ns}.actor.agent.a`, encodeEnvelope(env, key), { timeout: 10_000, headers: hdrs({ [CONTENT_TYPE_HEADER]: CT_ENVELOPE }) });
    expect(reply.headers?.get(CONTENT_TYPE_HEADER)).toBe(CT_ENVELOPE);
    expect(envelopeSealed(reply.data, key)).toBe(true);
    const answer = decodeEnvelope(reply.data);
    expect(answer).toMatchObject({ kind: 'reply', from: 'agent/a', to: 'billing/1', correlationId: env.correlationId, causationId: env.id });
    expect(answer.error).toBeUndefined();
    expect(decodeValue(answer.payload, answer.format)).toEqual({ ok: true, result: { self: 'agent/a', from: 'billing/1', subject: `${ns}.actor.agent.a` } });
    expect(turnsOf(g, 'agent/a')).toBe(1);
    await g.system.whenIdle();
    expect(g.trace.decisions({ action: 'receive' })).toEqual([]);
  });
});
