// The approval API for any TypeScript client (the `aos approvals` CLI, tests, a team's own
// tools): list, show, decide, act, each a JSON request on `<ns>.approval.api.<verb>`, and
// `watch` for the events of one item. Decisions are signed with the person's ed25519 key over
// the exact action hash the client was shown. Clients in other languages send the same JSON.

import type { KeyObject } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import { aosError, fromWire } from '../errors/aos-error.js';
import { generateApproverKey, signBody, type ApproverKey } from './approver-keys.js';
import type { ApprovalItem, ApprovalStatus, EscalationAction } from './approval-types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Approver {
  /** The person's name in the policy's `people`. */
  approver: string;
  /** Their ed25519 private key (approver-keys.ts privateKeyOf). */
  key: KeyObject;
  reason?: string;
}

export interface ApprovalEvent {
  event: string;
  item: ApprovalItem;
}

export class ApprovalClient {
  private readonly prefix: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly nc: NatsConnection,
    options: { namespace?: string; timeoutMs?: number } = {},
  ) {
    this.prefix = options.namespace ?? 'aos';
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  static generateKey(): ApproverKey {
    return generateApproverKey();
  }

  private async call<T>(verb: string, body: unknown): Promise<T> {
    let reply;
    try {
      reply = await this.nc.request(`${this.prefix}.approval.api.${verb}`, encoder.encode(JSON.stringify(body)), { timeout: this.timeoutMs });
    } catch (err) {
      // No responders: no node of the namespace runs; a timeout: none answered in time.
      if ((err as { code?: string }).code === '503') throw aosError('ERR_UNAVAILABLE', `no node of namespace ${this.prefix} is running to answer ${verb}`, { verb }, err);
      throw aosError('ERR_TIMEOUT', `no node answered ${this.prefix}.approval.api.${verb} within ${this.timeoutMs} ms`, { verb }, err);
    }
    const v = JSON.parse(decoder.decode(reply.data)) as { ok?: boolean; error?: unknown } & T;
    if (v.error !== undefined) throw fromWire(v.error);
    return v;
  }

  /** Open items (pending requests and unresolved escalations) unless a status or `all` is given. */
  async list(filter: { status?: 'open' | 'all' | ApprovalStatus; kind?: 'approval' | 'escalation' } = {}): Promise<ApprovalItem[]> {
    return (await this.call<{ items: ApprovalItem[] }>('list', filter)).items;
  }

  async show(id: string): Promise<ApprovalItem> {
    return (await this.call<{ item: ApprovalItem }>('show', { id })).item;
  }

  /** Approves or denies the action of `id` as shown now (its hash is what is signed). */
  async decide(id: string, decision: 'approve' | 'deny', who: Approver, actionHash?: string): Promise<ApprovalItem> {
    const hash = actionHash ?? (await this.show(id)).actionHash;
    if (hash === undefined) throw aosError('ERR_APPROVAL_REFUSED', `${id} is not an approval request`, { id, reason: 'wrong-kind' });
    const body = signBody({ id, decision, actionHash: hash, approver: who.approver, at: Date.now(), ...(who.reason === undefined ? {} : { reason: who.reason }) }, who.key);
    return (await this.call<{ item: ApprovalItem }>('decide', body)).item;
  }

  /** Acts on an escalation: restart, reroute (`to` a subject), drop, or reply (`value`, in the agent's place). */
  async act(id: string, action: EscalationAction, who: Approver & { to?: string; value?: unknown }): Promise<ApprovalItem> {
    const body = signBody(
      { id, action, approver: who.approver, at: Date.now(), ...(who.to === undefined ? {} : { to: who.to }), ...(who.value === undefined ? {} : { value: who.value }), ...(who.reason === undefined ? {} : { reason: who.reason }) },
      who.key,
    );
    return (await this.call<{ item: ApprovalItem }>('act', body)).item;
  }

  /** Calls back with every event of one item (or of all, with `*`) until the subscription is closed. */
  watch(id: string, onEvent: (e: ApprovalEvent) => void): Subscription {
    return this.nc.subscribe(`${this.prefix}.approval.${id}`, {
      callback: (_err, msg) => {
        try {
          onEvent(JSON.parse(decoder.decode(msg.data)) as ApprovalEvent);
        } catch {
          // not an event: ignored
        }
      },
    });
  }
}
