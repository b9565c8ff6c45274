// The demo's person in the loop: the duty manager. Before the node starts they get a fresh
// ed25519 key (the private half in .aos/demo/duty-manager.key, mode 0600; the public half in
// the policy's `people`, in memory). After the tickets, what waits for a person is listed as
// `aos approvals list` shows it and approved with a decision signed by that key file, as
// `aos approvals approve` would; then the refund is watched until it ran, and ran once.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { ApprovalClient, generateApproverKey, privateKeyOf, type ApprovalItem, type PolicyDoc } from '../index.js';
import { decodeEnvelope, decodeValue } from '../internal.js';
import { renderList, shortJson } from './approvals-text.js';
import type { RefundSettled } from './demo/specialist.js';

/** How long the demo waits for the approved refund, and for its requester to hear of it. */
const SETTLE_TIMEOUT_MS = 5_000;

export interface DutyManager {
  name: string;
  roles: string[];
  /** Where the private key is kept (relative to the working directory). */
  keyFile: string;
}

/**
 * Makes the duty manager's key (a new one each run; the file is replaced, never left readable
 * by others) and returns the policy with them among its `people`.
 */
export function enrolDutyManager(policy: PolicyDoc, dir: string): { policy: PolicyDoc; person: DutyManager } {
  const person: DutyManager = { name: 'duty-manager', roles: ['support-lead'], keyFile: join(dir, 'duty-manager.key') };
  const { privateKeyPem, publicKey } = generateApproverKey();
  mkdirSync(dirname(person.keyFile), { recursive: true });
  rmSync(person.keyFile, { force: true });
  writeFileSync(person.keyFile, privateKeyPem, { mode: 0o600, flag: 'wx' }); // created 0600: never readable by others, even for a moment
  return { policy: { ...policy, people: { ...policy.people, [person.name]: { roles: person.roles, publicKey } } }, person };
}

/** The one line saying who may decide in this run. */
export function personLine(p: DutyManager): string {
  return `people: ${p.name} (${p.roles.join(', ')}) added to the policy for this run; private key in ${p.keyFile} (mode 0600)`;
}

/**
 * Lists the pending approvals and approves each as the duty manager; `runs(args)` says how many
 * times the node's tool performed an action with those arguments. True when every approved
 * action ran exactly once and its requester heard of it.
 */
export async function approvePending(natsUrl: string, ns: string, person: DutyManager, runs: (args: unknown) => number): Promise<boolean> {
  const nc = await connect({ servers: natsUrl, name: 'aos-demo-duty-manager' });
  try {
    const client = new ApprovalClient(nc, { namespace: ns });
    const pending = await client.list({ status: 'pending' });
    console.log(`waiting for a person (as \`aos approvals list\` shows it):`);
    process.stdout.write(`${renderList(pending, Date.now(), false).trimEnd().replace(/^/gm, '  ')}\n`);
    let ok = pending.length > 0;
    for (const item of pending) ok = (await approve(client, nc, ns, item, person, runs)) && ok;
    return ok;
  } finally {
    await nc.close();
  }
}

async function approve(client: ApprovalClient, nc: NatsConnection, ns: string, item: ApprovalItem, person: DutyManager, runs: (args: unknown) => number): Promise<boolean> {
  const action = item.action!;
  const before = runs(action.args);
  console.log(`${person.name} approves ${item.id} with their key, as a person types: aos approvals approve ${item.id} --as ${person.name} --key ${person.keyFile}`);
  // Both watches are live on the server before the decision can change anything.
  const settled = firstOf<ApprovalItem>((done) => client.watch(item.id, (e) => ['executed', 'failed', 'denied', 'expired'].includes(e.event) && done(e.item)));
  const heard = firstOf<{ subject: string; from: string; value: RefundSettled }>((done) =>
    nc.subscribe(`${ns}.evt.refunds.>`, {
      callback: (_err, m) => {
        try {
          // Actors publish envelopes (msgpack); `from` is stamped by the kernel, not the actor.
          const env = decodeEnvelope(m.data);
          const value = decodeValue(env.payload, env.format) as RefundSettled;
          if (value.approvalId === item.id) done({ subject: m.subject, from: env.from, value });
        } catch {
          // not an envelope: not the specialist's announcement
        }
      },
    }),
  );
  try {
    await nc.flush();
    // Signed with the key file, exactly as the CLI reads it.
    const key = privateKeyOf(readFileSync(person.keyFile, 'utf8'));
    await client.decide(item.id, 'approve', { approver: person.name, key, reason: 'known customer, annual plan cancelled in time' }, item.actionHash);
    const final = await settled.within(SETTLE_TIMEOUT_MS, `${item.id} to be performed`);
    const told = await heard.within(SETTLE_TIMEOUT_MS, `${item.requester ?? 'its requester'} to announce the outcome of ${item.id}`);
    const ran = runs(action.args) - before;
    const times = ran === 1 ? 'once' : `${ran} times`;
    const by = final.decision?.decision === 'approve' ? `approved by ${final.decision.by}` : final.status;
    console.log(`approval ${item.id}: ${action.target} ${shortJson(action.args)} ${by} -> ${what(final)} (ran ${times})`);
    console.log(`  ${told.from} got the outcome in onApproval and announced it on ${told.subject} (ticket ${told.value.ticket ?? '?'}, ${told.value.status}, refunded ${told.value.refunded ?? '-'})`);
    return final.status === 'executed' && before === 0 && ran === 1 && told.value.status === 'executed';
  } finally {
    settled.stop();
    heard.stop();
  }
}

/** What the approved action gave: `refunded 750 EUR`, or why it did not run. */
function what(item: ApprovalItem): string {
  if (item.result === undefined) return item.status;
  if (!item.result.ok) return `failed: ${item.result.error.code}: ${item.result.error.message}`;
  const v = item.result.value as { refunded?: unknown } | null;
  return typeof v?.refunded === 'number' ? `refunded ${v.refunded} EUR` : `executed, result ${shortJson(v)}`;
}

/** The first value a subscription hands to `done`, awaited with a deadline. */
function firstOf<T>(start: (done: (value: T) => void) => Subscription): { within(ms: number, what: string): Promise<T>; stop(): void } {
  let value: { v: T } | undefined;
  let wake: (() => void) | undefined;
  const sub = start((v) => {
    if (value !== undefined) return;
    value = { v };
    wake?.();
  });
  return {
    within: (ms, what) =>
      new Promise<T>((resolve, reject) => {
        if (value !== undefined) return resolve(value.v);
        const timer = setTimeout(() => reject(new Error(`demo: waited ${ms} ms for ${what}`)), ms);
        wake = () => {
          clearTimeout(timer);
          resolve(value!.v);
        };
      }),
    stop: () => sub.unsubscribe(),
  };
}
