// `aos approvals` end to end: the built CLI (dist/cli/aos.js) run as a person runs it, against a
// node on the suite's nats-server (JetStream on), each test in a namespace of its own. The node's
// policy holds refunds over 500 for a person with the finance-lead role; the people's keys are
// made by `aos approvals keygen` itself. An actor's held tool call is listed, shown, approved
// (the tool runs once) or denied (the actor hears so), and wrong deciders are refused by code.
// No waiting on time: the CLI exits once the queue answered, and the actor's outcome is awaited
// on the subject it publishes it to.

import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createInbox, type NatsConnection } from 'nats';
import type { ActorSystem } from 'autonomy-os';
import { decodeEnvelope, decodeValue } from 'autonomy-os/internal';
import type { ApprovalItem, ApprovalOutcome } from '../../runtime/approvals/approval-types.js';
import { collect, json, parseJson, rawClient, type Collector } from '../helpers/nats.js';
import { runAos, type AosExit } from '../helpers/processes.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

interface Person {
  name: string;
  keyFile: string;
  entry: { roles: string[]; publicKey: string };
}

let dir: string;
let alice: Person;
let bob: Person;

/** `aos approvals keygen` for one person: the key file it wrote and the people entry it printed. */
async function keygen(name: string, role: string): Promise<Person> {
  const keyFile = join(dir, `${name}.pem`);
  const r = await runAos(['approvals', 'keygen', '--as', name, '--role', role, '--out', keyFile]);
  expect(r.code, r.stderr).toBe(0);
  const printed = JSON.parse(r.stdout) as Record<string, Person['entry']>;
  return { name, keyFile, entry: printed[name]! };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aos-cli-approvals-'));
  alice = await keygen('alice', 'finance-lead');
  bob = await keygen('bob', 'auditor');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Refunds over 500 need a finance lead; the refunder may call payments and publish its outcomes. */
function policyDoc(ns: string): Record<string, unknown> {
  return {
    name: 'refunds',
    roles: {
      billing: {
        tools: { allow: ['payments.>'] },
        publish: { allow: [`${ns}.evt.refunds.>`] },
        subscribe: { allow: [`${ns}.task.refunds`] },
        approvals: [
          {
            action: 'call',
            target: 'payments.refund',
            when: [{ path: 'amount', gt: 500 }],
            chain: [{ approvers: ['finance-lead'], timeoutMs: 600_000 }],
          },
        ],
      },
    },
    actors: { billing: { role: 'billing', owner: 'finance' } },
    people: { alice: alice.entry, bob: bob.entry },
  };
}

interface Desk {
  ns: string;
  node: ActorSystem;
  /** A raw client of the test server. */
  nc: NatsConnection;
  /** The orderIds the refund tool ran for, in order: its side effect. */
  refunds: string[];
  /** The outcomes the refunder's onApproval published. */
  outcomes: Collector;
  /** Asks the refunder for a refund; resolves to the approval id when the call is held. */
  refund(orderId: string, amount: number): Promise<string>;
  /** `aos approvals <args>` on this namespace. */
  aos(args: string[]): Promise<AosExit>;
}

async function desk(): Promise<Desk> {
  const ns = uniqueNamespace();
  const refunds: string[] = [];
  const node = await startSystem({ namespace: ns, policy: policyDoc(ns) });
  node.registerTool('payments.refund', {
    input: z.object({ orderId: z.string(), amount: z.number() }),
    run: ({ orderId, amount }) => {
      refunds.push(orderId);
      return { orderId, refunded: amount };
    },
  });
  const refunder = await node.spawn(fixture('cli-refunder.ts'), { type: 'billing', key: 'b1' });
  const nc = await rawClient();
  const notify = `${ns}.evt.refunds.outcome`;
  const outcomes = await collect(nc, notify);
  return {
    ns,
    node,
    nc,
    refunds,
    outcomes,
    refund: async (orderId, amount) => {
      const r = await refunder.ask<{ pending?: string; done?: unknown }>({ orderId, amount, notify });
      expect(r.pending, `the refund of ${amount} was not held: ${JSON.stringify(r)}`).toMatch(/^[0-9a-f]{16}$/);
      return r.pending!;
    },
    aos: (args) => runAos(['approvals', ...args, '--nats', inject('natsUrl'), '--namespace', ns]),
  };
}

function outcomeAt(c: Collector, i: number): ApprovalOutcome {
  const env = decodeEnvelope(c.messages[i]!.data);
  return decodeValue(env.payload, env.format) as ApprovalOutcome;
}

/** The first event on `<ns>.approval.<id>` subjects (counting from `from`) whose item `match` accepts. */
async function eventWhere(events: Collector, match: (item: ApprovalItem, event: string) => boolean, what: string): Promise<ApprovalItem> {
  for (let n = 1; ; n++) {
    await events.waitFor(n, 10_000).catch((err: unknown) => {
      throw new Error(`${what}: ${(err as Error).message}`);
    });
    const e = parseJson<{ event: string; item: ApprovalItem }>(events.messages[n - 1]!.data);
    if (match(e.item, e.event)) return e.item;
  }
}

const as = (p: Person, keyFile = p.keyFile) => ['--as', p.name, '--key', keyFile];

async function itemOf(d: Desk, id: string): Promise<ApprovalItem> {
  const r = await d.aos(['show', id, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ApprovalItem;
}

describe('cli approvals', () => {
  it('cli approvals - keygen writes a private key only its owner reads, prints its public half for the policy, and never overwrites it', async () => {
    expect(statSync(alice.keyFile).mode & 0o777).toBe(0o600);
    expect(alice.entry.roles).toEqual(['finance-lead']);
    const derived = createPublicKey(createPrivateKey(readFileSync(alice.keyFile, 'utf8'))).export({ type: 'spki', format: 'der' }).toString('base64');
    expect(alice.entry.publicKey).toBe(derived);
    expect(bob.entry.publicKey).not.toBe(alice.entry.publicKey);

    const before = readFileSync(alice.keyFile, 'utf8');
    const again = await runAos(['approvals', 'keygen', '--as', 'alice', '--out', alice.keyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^aos: ERR_CONFIG: .*alice\.pem exists/m);
    expect(again.stdout).toBe('');
    expect(readFileSync(alice.keyFile, 'utf8')).toBe(before);
  });

  it('cli approvals - list shows a held call, show prints its action, approve runs it exactly once and the actor gets the result', async () => {
    const d = await desk();
    const empty = await d.aos(['list']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe('nothing waits for a decision\n');

    const id = await d.refund('o-1', 900);

    const list = await d.aos(['list']);
    expect(list.code, list.stderr).toBe(0);
    const row = list.stdout.split('\n').find((l) => l.startsWith(id));
    expect(row, list.stdout).toBeDefined();
    expect(row).toMatch(new RegExp(`^${id}\\s+approval\\s+pending\\s+billing/b1\\s+call payments\\.refund \\{"orderId":"o-1","amount":900\\}\\s+finance-lead\\s+\\d+m$`));
    const asJson = JSON.parse((await d.aos(['list', '--json'])).stdout) as ApprovalItem[];
    expect(asJson.map((i) => i.id)).toEqual([id]);

    const show = await d.aos(['show', id]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^approval ${id}: pending$`, 'm'));
    expect(show.stdout).toContain('action: call payments.refund\n  {\n    "orderId": "o-1",\n    "amount": 900\n  }\n');
    expect(show.stdout).toContain(`  hash ${asJson[0]!.actionHash}`);
    expect(show.stdout).toMatch(/^ {2}> 1\.\s+finance-lead\s+10m to decide\s+due /m);
    expect(show.stdout).toMatch(/^history:\n.*requested/m);
    expect(d.refunds).toEqual([]); // nothing ran before a person decided

    const approve = await d.aos(['approve', id, '--reason', 'known customer', ...as(alice)]);
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stderr).toContain(`approving approval ${id} (pending), raised by billing/b1`); // the action, shown before sending
    expect(approve.stderr).toContain('"amount": 900');
    expect(approve.stdout).toBe(`approved ${id} by alice: executed call payments.refund {"orderId":"o-1","amount":900}, result {"orderId":"o-1","refunded":900}\n`);
    expect(d.refunds).toEqual(['o-1']);

    await d.outcomes.waitFor(1);
    expect(outcomeAt(d.outcomes, 0)).toMatchObject({ approvalId: id, status: 'executed', decidedBy: 'alice', result: { orderId: 'o-1', refunded: 900 } });

    // A second decision is refused, ignored (the tool does not run again) and recorded.
    const second = await d.aos(['approve', id, ...as(alice)]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^aos: ERR_APPROVAL_DECIDED: /m);
    expect(second.stdout).toBe('');
    const deny = await d.aos(['deny', id, ...as(alice)]);
    expect(deny.code).toBe(1);
    expect(deny.stderr).toMatch(/^aos: ERR_APPROVAL_DECIDED: /m);
    const after = await itemOf(d, id);
    expect(after.status).toBe('executed');
    expect(after.decision).toMatchObject({ by: 'alice', decision: 'approve', reason: 'known customer' });
    expect(after.history.filter((h) => h.by === 'alice').length).toBeGreaterThanOrEqual(3); // the decision and both ignored ones
    expect(d.refunds).toEqual(['o-1']);
    expect(d.outcomes.count).toBe(1);

    // Settled: no longer listed as open, still listed with --all.
    expect((await d.aos(['list'])).stdout).toBe('nothing waits for a decision\n');
    expect((await d.aos(['list', '--all'])).stdout).toMatch(new RegExp(`^${id}\\s+approval\\s+executed\\s`, 'm'));
  });

  it('cli approvals - deny: the tool never runs and the actor gets a denied outcome with the reason', async () => {
    const d = await desk();
    const id = await d.refund('o-2', 700);
    const r = await d.aos(['deny', id, '--reason', 'duplicate order', ...as(alice)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`denying approval ${id}`);
    expect(r.stdout).toBe(`denied ${id} by alice: call payments.refund {"orderId":"o-2","amount":700} will not run\n`);
    await d.outcomes.waitFor(1);
    expect(outcomeAt(d.outcomes, 0)).toMatchObject({ approvalId: id, status: 'denied', decidedBy: 'alice', reason: 'duplicate order' });
    expect(d.refunds).toEqual([]);
    expect((await itemOf(d, id)).status).toBe('denied');

    // Beside another request: list shows the open one only, --all both.
    const other = await d.refund('o-5', 650);
    const open = await d.aos(['list']);
    expect(open.stdout.split('\n').filter((l) => /^[0-9a-f]{16}\s/.test(l)).map((l) => l.slice(0, 16))).toEqual([other]);
    const all = await d.aos(['list', '--all']);
    expect(all.stdout).toMatch(new RegExp(`^${id}\\s+approval\\s+denied\\s`, 'm'));
    expect(all.stdout).toMatch(new RegExp(`^${other}\\s+approval\\s+pending\\s`, 'm'));
  });

  it('cli approvals - refused: an approver without the role, a wrong key, a stranger, the wrong verb; the request stays pending', async () => {
    const d = await desk();
    const id = await d.refund('o-3', 800);

    const noRole = await d.aos(['approve', id, ...as(bob)]);
    expect(noRole.code).toBe(1);
    expect(noRole.stderr).toMatch(/^aos: ERR_APPROVAL_REFUSED: .*\(reason: not-approver\)$/m);
    expect(noRole.stdout).toBe('');

    const wrongKey = await d.aos(['approve', id, ...as(alice, bob.keyFile)]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^aos: ERR_APPROVAL_REFUSED: .*\(reason: signature\)$/m);

    const stranger = await d.aos(['approve', id, '--as', 'mallory', '--key', alice.keyFile]);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/^aos: ERR_APPROVAL_REFUSED: .*\(reason: unknown-approver\)$/m);

    const act = await d.aos(['act', id, 'drop', ...as(alice)]);
    expect(act.code).toBe(1);
    expect(act.stderr).toMatch(/^aos: ERR_APPROVAL_REFUSED: .*\(reason: wrong-kind\)$/m);

    const item = await itemOf(d, id);
    expect(item.status).toBe('pending');
    expect(item.decision).toBeUndefined();
    expect(d.refunds).toEqual([]);
    expect(d.outcomes.count).toBe(0);

    // The right person still can.
    const ok = await d.aos(['approve', id, ...as(alice)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(d.refunds).toEqual(['o-3']);
  });

  it('cli approvals - a missing key file says how to make one; no identity is a usage error; an unknown id is ERR_APPROVAL_NOT_FOUND', async () => {
    const d = await desk();
    const id = await d.refund('o-4', 600);

    const missing = await d.aos(['approve', id, '--as', 'alice', '--key', join(dir, 'nope.pem')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^aos: ERR_CONFIG: there is no key file .*nope\.pem: make one with `aos approvals keygen --as alice --out .*nope\.pem`/m);

    const nobody = await runAos(['approvals', 'approve', id, '--nats', inject('natsUrl'), '--namespace', d.ns]);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toMatch(/--as NAME \(or AOS_APPROVER\)/);
    expect(nobody.stderr).toMatch(/^usage: aos approvals approve /m);

    const unknown = await d.aos(['show', '0123456789abcdef']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^aos: ERR_APPROVAL_NOT_FOUND: /m);
    const unknownApprove = await d.aos(['approve', '0123456789abcdef', ...as(alice)]);
    expect(unknownApprove.code).toBe(1);
    expect(unknownApprove.stderr).toMatch(/^aos: ERR_APPROVAL_NOT_FOUND: /m);

    expect((await itemOf(d, id)).status).toBe('pending');
    expect(d.refunds).toEqual([]);
  });

  it('cli approvals - an escalation: a task subject left with no instance is listed, act reply answers its held task in the agent\'s place', async () => {
    const d = await desk();
    const events = await collect(d.nc, `${d.ns}.approval.*`);
    const subject = `${d.ns}.task.refunds`;
    await d.node.spawn(fixture('cli-refunder.ts'), { type: 'billing', key: 'b2', tasks: [subject] });
    await d.node.stop('billing/b2');
    const opened = await eventWhere(events, (i) => i.kind === 'escalation', 'an escalation for the stopped type');

    // A request to the subject: answered ERR_UNAVAILABLE at once, and held on the escalation.
    const inbox = createInbox();
    const replies = await collect(d.nc, inbox);
    d.nc.publish(subject, json({ orderId: 'o-9', amount: 10, notify: `${d.ns}.evt.refunds.outcome` }), { reply: inbox });
    await replies.waitFor(1);
    expect(parseJson<{ error: { code: string } }>(replies.messages[0]!.data).error.code).toBe('ERR_UNAVAILABLE');
    await eventWhere(events, (i) => i.id === opened.id && (i.escalation?.tasks.length ?? 0) === 1, 'the task held on the escalation');

    const list = await d.aos(['list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${opened.id}\\s+escalation\\s+open\\s+supervision\\s+ERR_UNAVAILABLE ${subject.replace(/\./g, '\\.')}, 1 task held\\s+any person\\s+-$`, 'm'));
    const show = await d.aos(['show', opened.id]);
    expect(show.stdout).toMatch(new RegExp(`^escalation ${opened.id}: open$`, 'm'));
    expect(show.stdout).toMatch(/^escalation: ERR_UNAVAILABLE: /m);
    expect(show.stdout).toContain(`1. ${subject}  chain `);
    expect(show.stdout).toContain('(a request: reply can answer it)');
    expect(show.stdout).toContain('"orderId":"o-9"');

    // Approving an escalation is the wrong verb.
    const approve = await d.aos(['approve', opened.id, ...as(alice)]);
    expect(approve.code).toBe(1);
    expect(approve.stderr).toMatch(/^aos: ERR_APPROVAL_REFUSED: .*\(reason: wrong-kind\)$/m);

    const act = await d.aos(['act', opened.id, 'reply', '--value', '{"orderId":"o-9","refunded":10}', '--reason', 'done by hand', ...as(alice)]);
    expect(act.code, act.stderr).toBe(0);
    expect(act.stderr).toContain(`reply: escalation ${opened.id} (open)`); // shown before sending
    expect(act.stdout).toBe(`resolved ${opened.id} by alice: reply with {"orderId":"o-9","refunded":10} (ERR_UNAVAILABLE ${subject}, 1 task held)\n`);
    await replies.waitFor(2);
    expect(parseJson(replies.messages[1]!.data)).toEqual({ orderId: 'o-9', refunded: 10 });

    const again = await d.aos(['act', opened.id, 'drop', ...as(alice)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^aos: ERR_APPROVAL_DECIDED: /m);
    const item = await itemOf(d, opened.id);
    expect(item.status).toBe('resolved');
    expect(item.resolution).toMatchObject({ by: 'alice', action: 'reply', value: { orderId: 'o-9', refunded: 10 }, reason: 'done by hand' });
    expect(d.refunds).toEqual([]);
  });
});
