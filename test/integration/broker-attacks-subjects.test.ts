// Broker attacks on subjects: publishing outside the grants, widening a subscription with
// wildcards, wildcards and malformed subjects in a publish, and the reserved namespaces. Each
// asserts that nothing reached the wire (a marker sent after a barrier is the only message),
// the error code the handler caught, and the decision record with the policy version in force.

import { describe, expect, test } from 'vitest';
import { GovernanceStore, governanceBucket } from 'autonomy-os/internal';
import { collect } from '../helpers/nats.js';
import { errorOf } from '../helpers/system.js';
import { expectCaught, expectDenialRecord, expectOnlyMarkers, governed, policy, watch } from '../fixtures/broker/setup.js';

describe('broker attacks - subjects', () => {
  test('publish - outside the grants is not-granted, a deny-list hit is denied, a granted publish arrives with an allow record', async () => {
    const g = await governed((ns) =>
      policy({ agent: { publish: { allow: [`${ns}.evt.ok.>`], deny: [`${ns}.evt.ok.secret`] } } }, { agent: { role: 'agent', owner: 'team-a' } }),
    );
    const { ns } = g;
    await g.agent('agent', 'a');
    const outside = `${ns}.evt.other`;
    const secret = `${ns}.evt.ok.secret`;
    const fine = `${ns}.evt.ok.fine`;
    const watched = await watch(g.nc, [outside, secret]);
    const allowed = await collect(g.nc, fine);

    const notGranted = await g.act('agent/a', { op: 'publish', subject: outside, value: 1 });
    expectCaught(notGranted, 'ERR_DENIED', 'not-granted');
    const denied = await g.act('agent/a', { op: 'publish', subject: secret, value: 2 });
    expectCaught(denied, 'ERR_DENIED', 'denied');
    if (!denied.ok) expect(denied.error.policy).toBe(g.version);
    expect(await g.act('agent/a', { op: 'publish', subject: fine, value: 3 })).toEqual({ ok: true });

    await allowed.waitFor(1);
    await expectOnlyMarkers(g.system, g.nc, watched);

    const allow = await g.trace.decision({ action: 'publish', target: fine });
    expect(allow).toMatchObject({ actor: 'agent/a', role: 'agent', owner: 'team-a', allow: true, rule: `roles.agent.publish.allow[0]=${ns}.evt.ok.>`, policy: g.version });
    // the allow record came last from this node: every earlier record has arrived
    const [r1, ...more1] = g.trace.decisions({ action: 'publish', target: outside });
    expect(more1).toEqual([]);
    expectDenialRecord(r1!, { actor: 'agent/a', action: 'publish', target: outside, reason: 'not-granted', policy: g.version });
    expect(r1).toMatchObject({ role: 'agent', owner: 'team-a', rule: 'roles.agent.publish: not granted' });
    const [r2, ...more2] = g.trace.decisions({ action: 'publish', target: secret });
    expect(more2).toEqual([]);
    expectDenialRecord(r2!, { actor: 'agent/a', action: 'publish', target: secret, reason: 'denied', policy: g.version });
    expect(r2!.rule).toBe(`roles.agent.publish.deny[0]=${ns}.evt.ok.secret`);
  });

  test('tell and ask - targets outside the grants are denied and never hear of it; a type with no role may do nothing', async () => {
    const g = await governed((ns) =>
      policy(
        {
          agent: { tell: { allow: [`${ns}.actor.peer.*`], deny: [`${ns}.actor.peer.secret`] }, ask: { allow: [`${ns}.actor.peer.a`] }, publish: { allow: [`${ns}.evt.>`] } },
          peer: {},
        },
        { agent: { role: 'agent' }, peer: { role: 'peer' } },
      ),
    );
    const { ns } = g;
    await g.agent('agent', 'a');
    for (const key of ['a', 'b', 'secret']) await g.agent('peer', key);
    await g.agent('stranger', 'x'); // no role in the policy (and no "*")

    expectCaught(await g.act('agent/a', { op: 'tell', to: 'peer/secret' }), 'ERR_DENIED', 'denied');
    expectCaught(await g.act('agent/a', { op: 'ask', to: 'peer/b' }), 'ERR_DENIED', 'not-granted');
    expectCaught(await g.act('agent/a', { op: 'tell', to: 'boss/x' }), 'ERR_DENIED', 'not-granted');
    expect(await g.act('agent/a', { op: 'tell', to: 'peer/a', value: { op: 'ping' } })).toEqual({ ok: true });
    expect(await g.act('agent/a', { op: 'ask', to: 'peer/a', value: { op: 'count' } })).toEqual({ ok: true, result: { ok: true, result: 2 } });
    // a committed tell is in the target's mailbox before the sender's reply goes: these counts are their first turns
    expect(await g.act('peer/secret', { op: 'count' })).toEqual({ ok: true, result: 1 });
    expect(await g.act('peer/b', { op: 'count' })).toEqual({ ok: true, result: 1 });

    for (const [action, target, reason] of [
      ['tell', `${ns}.actor.peer.secret`, 'denied'],
      ['ask', `${ns}.actor.peer.b`, 'not-granted'],
      ['tell', `${ns}.actor.boss.x`, 'not-granted'],
    ] as const) {
      expectDenialRecord(await g.trace.decision({ actor: 'agent/a', action, target }), { actor: 'agent/a', action, target, reason, policy: g.version });
    }
    expect(await g.trace.decision({ actor: 'agent/a', action: 'tell', target: `${ns}.actor.peer.a` })).toMatchObject({ allow: true, policy: g.version });

    const events = await collect(g.nc, `${ns}.evt.x`);
    const stranger = await g.act('stranger/x', { op: 'publish', subject: `${ns}.evt.x`, value: 1 });
    expectCaught(stranger, 'ERR_DENIED', 'no-role');
    expectCaught(await g.act('stranger/x', { op: 'spawn', type: 'agent', key: 'child' }), 'ERR_DENIED', 'no-role');
    await expectOnlyMarkers(g.system, g.nc, [events]);
    const r = await g.trace.decision({ actor: 'stranger/x', action: 'publish' });
    expectDenialRecord(r, { actor: 'stranger/x', action: 'publish', target: `${ns}.evt.x`, reason: 'no-role', policy: g.version });
    expect(r).toMatchObject({ role: null, owner: null });
    expect(g.system.list().map((a) => a.id)).not.toContain('agent/child');
  });

  test('subscribe - a task pattern wider than the grant is refused at spawn; a subject inside it is served', async () => {
    const g = await governed((ns) => policy({ agent: { subscribe: { allow: [`${ns}.task.a.*`] } } }, { agent: { role: 'agent' } }));
    const { ns } = g;
    for (const [i, task, target] of [
      [0, `${ns}.task.a.>`, `${ns}.task.a.>`],
      [1, `${ns}.task.>`, `${ns}.task.>`],
      [2, '>', `${ns}.task.>`], // a bare topic is taken under the namespace's task subjects
      [3, `${ns}.task.*.x`, `${ns}.task.*.x`],
    ] as const) {
      const err = await errorOf(() => g.agent('agent', `w${i}`, [task]));
      expect(err.code).toBe('ERR_DENIED');
      expect(err.details).toMatchObject({ actorId: `agent/w${i}`, action: 'subscribe', target, reason: 'not-granted', policy: g.version });
      expectDenialRecord(await g.trace.decision({ actor: `agent/w${i}`, action: 'subscribe' }), { actor: `agent/w${i}`, action: 'subscribe', target, reason: 'not-granted', policy: g.version });
    }
    expect(g.system.list()).toEqual([]);
    // nobody subscribed: a request on a subject only the wide patterns match finds no responder
    const none = await errorOf(() => g.nc.request(`${ns}.task.a.b.c`, '{"op":"ping"}', { timeout: 5_000 }));
    expect(none.code).toBe('503');

    await g.agent('agent', 'ok', [`${ns}.task.a.x`]);
    const served = await g.nc.request(`${ns}.task.a.x`, JSON.stringify({ op: 'ping' }), { timeout: 10_000 });
    expect(served.json()).toMatchObject({ ok: true, result: { self: 'agent/ok', from: 'external', subject: `${ns}.task.a.x` } });
    expect(await g.trace.decision({ actor: 'agent/ok', action: 'subscribe' })).toMatchObject({
      target: `${ns}.task.a.x`,
      allow: true,
      rule: `roles.agent.subscribe.allow[0]=${ns}.task.a.*`,
      policy: g.version,
    });
  });

  test('publish - a subject with a wildcard is ERR_INVALID_SUBJECT, recorded with reason subject', async () => {
    const g = await governed(() => policy({ agent: { publish: { allow: ['>'] } } }, { agent: { role: 'agent' } }));
    const { ns } = g;
    await g.agent('agent', 'a');
    const watched = await watch(g.nc, [`${ns}.evt.>`]);
    const subjects = [`${ns}.evt.a.*`, `${ns}.evt.a.>`, `${ns}.evt.*`, `${ns}.evt.a*`];
    for (const subject of subjects) expectCaught(await g.act('agent/a', { op: 'publish', subject, value: 1 }), 'ERR_INVALID_SUBJECT', 'subject');
    await expectOnlyMarkers(g.system, g.nc, watched);
    for (const subject of subjects) {
      const r = await g.trace.decision({ action: 'publish', target: subject });
      expectDenialRecord(r, { actor: 'agent/a', action: 'publish', target: subject, reason: 'subject', policy: g.version });
      expect(r.rule).toMatch(/^builtin:subject-syntax/);
    }
  });

  test('publish - malformed subjects (empty token, whitespace, control character, too long) are ERR_INVALID_SUBJECT with records', async () => {
    const g = await governed(() => policy({ agent: { publish: { allow: ['>'] } } }, { agent: { role: 'agent' } }));
    const { ns } = g;
    await g.agent('agent', 'a');
    // a subject with whitespace, had it reached the wire, would have been split by the protocol
    // (`PUB <ns>.evt.a b`: subject `<ns>.evt.a`, reply `b`): the watcher covers all of `<ns>.evt.`
    const watched = await watch(g.nc, [`${ns}.evt.>`]);
    const subjects = [
      `${ns}.evt.a..b`,
      `${ns}.evt.a.`,
      `.${ns}.evt.a`,
      `${ns}.evt.a b`,
      `${ns}.evt.a\tb`,
      `${ns}.evt.a\r\nPUB ${ns}.evt.x 0`,
      `${ns}.evt.a\u0007b`,
      `${ns}.evt.a\u007fb`,
      `${ns}.evt.${'x'.repeat(257)}`,
      '',
    ];
    for (const subject of subjects) expectCaught(await g.act('agent/a', { op: 'publish', subject, value: 1 }), 'ERR_INVALID_SUBJECT', 'subject');
    await expectOnlyMarkers(g.system, g.nc, watched);
    for (const subject of subjects) {
      const r = await g.trace.decision({ action: 'publish', target: subject });
      expectDenialRecord(r, { actor: 'agent/a', action: 'publish', target: subject, reason: 'subject', policy: g.version });
    }
  });

  test('publish - reserved subjects are out of reach of a ">" grant; an explicit grant reaches its area', async () => {
    const g = await governed((ns) =>
      policy(
        {
          wide: { publish: { allow: ['>'] } },
          approver: { publish: { allow: ['>', `${ns}.approval.>`] } },
        },
        { wide: { role: 'wide' }, approver: { role: 'approver' } },
      ),
    );
    const { ns } = g;
    await g.agent('wide', 'a');
    await g.agent('approver', 'a');
    const kvSubject = `$KV.${governanceBucket(ns)}.policy`;
    const reserved = ['$SYS.x', '$JS.API.x', '_INBOX.x', `${ns}.ctl.all.stop`, `${ns}.trace.n1`, `${ns}.approval.x`];
    const watched = await watch(g.nc, reserved);
    const kv = await collect(g.nc, kvSubject);
    const store = (await GovernanceStore.open(g.nc, ns))!;
    const revision = (await store.policy())!.revision;

    for (const subject of [...reserved, kvSubject]) expectCaught(await g.act('wide/a', { op: 'publish', subject, value: 'x' }), 'ERR_DENIED', 'reserved');
    await expectOnlyMarkers(g.system, g.nc, watched);
    // no marker on the KV subject (it would write the policy): the bucket's revision proves nothing was written
    expect(kv.count).toBe(0);
    expect((await store.policy())!.revision).toBe(revision);
    for (const subject of [...reserved, kvSubject]) {
      const r = await g.trace.decision({ actor: 'wide/a', action: 'publish', target: subject });
      expectDenialRecord(r, { actor: 'wide/a', action: 'publish', target: subject, reason: 'reserved', policy: g.version });
      expect(r.rule).toMatch(/^builtin:reserved /);
    }

    const approvals = await collect(g.nc, `${ns}.approval.x`);
    expect(await g.act('approver/a', { op: 'publish', subject: `${ns}.approval.x`, value: 'ok' })).toEqual({ ok: true });
    await approvals.waitFor(1);
    expect(await g.trace.decision({ actor: 'approver/a', action: 'publish' })).toMatchObject({
      target: `${ns}.approval.x`,
      allow: true,
      rule: `roles.approver.publish.allow[1]=${ns}.approval.>`,
      policy: g.version,
    });
    // the explicit grant reaches its own area only
    expectCaught(await g.act('approver/a', { op: 'publish', subject: `${ns}.ctl.all.stop`, value: 'x' }), 'ERR_DENIED', 'reserved');
  });
});
