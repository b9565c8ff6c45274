// The approval queue on one node. Every node runs one: it stores requests its actors make,
// answers the approval API (one node per request, in a queue group), watches the bucket to
// run the chain's timers and to perform approved actions of the actors it hosts (exactly
// once: the claim is a compare-and-set), and sends each outcome back to the actor as a
// message. Every change is published on `<ns>.approval.<id>` and recorded in the trace.

import type { Msg, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { ApprovalRoute, Policy } from '../broker/policy.js';
import type { Clock, TimerHandle } from '../clock.js';
import { CONTENT_TYPE_HEADER, CT_ENVELOPE, decodeEnvelope, decodeValue, envelopeSealed } from '../envelope.js';
import { aosError, toAosError, type AosError } from '../errors/aos-error.js';
import { newMessageId } from '../ids.js';
import type { Subjects } from '../subjects.js';
import type { NatsTransport } from '../transport/nats-transport.js';
import { checkAct, checkDecision, onTimeout, withHistory, type Checked } from './approval-checks.js';
import { actionHash } from './approval-rules.js';
import { SettledItems } from './approval-retention.js';
import type { ApprovalStore } from './approval-store.js';
import { OPEN_STATUSES, type ActBody, type ActionResult, type ApprovalItem, type ApprovalOutcome, type BoundAction, type DecideBody, type EscalationInfo, type HeldTask, type HistoryEntry, type HistoryEvent } from './approval-types.js';
import { parseActBody, parseDecideBody, parseListBody, parseShowBody } from './approval-wire.js';

const encoder = new TextEncoder();
/** Tasks kept per escalation, and the largest payload kept (an item is one KV value: it stays well under the server's message limit). */
const MAX_HELD_TASKS = 50;
const MAX_HELD_PAYLOAD = 8 * 1024;
const QUEUE = 'aos-approvals';
/**
 * How often a node looks at the requests being performed by other nodes: one whose node is gone
 * (nothing answers its ping) is `failed` with ERR_OUTCOME_UNKNOWN, never performed again. The
 * same check removes settled items the policy's approvalRetention no longer keeps.
 */
export const ORPHAN_CHECK_MS = 10_000;
/** A ping that gets no answer in this time is a busy node, not a gone one: it is asked again later. */
const PING_TIMEOUT_MS = 2_000;

/** What the service needs of its node. */
export interface ApprovalHost {
  nodeId: string;
  subjects: Subjects;
  clock: Clock;
  log: Logger;
  transport: NatsTransport;
  /** The cluster key: an API message that is a sealed envelope comes from an actor. */
  key: Uint8Array;
  policy(): Policy;
  /** A record for the trace (the emitter's `other`). */
  trace(record: object): void;
  /** The actor runs on this node. */
  hosts(actorId: string): boolean;
  /** Performs an approved action as its requester (decided again by the broker, as approved). */
  perform(item: ApprovalItem & { action: BoundAction; requester: string }): Promise<ActionResult>;
  /** Sends the outcome to the requester, as an `approval` message. */
  deliver(item: ApprovalItem & { requester: string }, outcome: ApprovalOutcome): void;
  /** Acts on an escalation: restart what gave up, send its held tasks elsewhere, answer them in the agent's place, or drop them. */
  restart(item: ApprovalItem): Promise<string>;
  reroute(task: HeldTask, to: string, by: string): void;
  reply(task: HeldTask, value: unknown, by: string): void;
  drop(task: HeldTask, item: ApprovalItem, by: string): void;
}

/** A request for a person, as the kernel makes it for a held action or ctx.requestApproval. */
export interface NewRequest {
  /** The id the worker already told the handler (held publishes and tells), else a fresh one. */
  id?: string;
  requester: string;
  role: string | null;
  owner: string | null;
  action: BoundAction;
  route: ApprovalRoute;
  reason?: string;
  correlationId: string;
  causationId: string | null;
}

export class ApprovalService {
  private readonly items = new Map<string, ApprovalItem>();
  /** Settled items, for the policy's approvalRetention. */
  private readonly settled = new SettledItems();
  private readonly timers = new Map<string, { handle: TimerHandle; deadline: number }>();
  /** Approved items this node is performing now (the store's claim makes it once across nodes). */
  private readonly running = new Set<string>();
  /** Items whose performing node is being pinged now. */
  private readonly checking = new Set<string>();
  private sweep: TimerHandle | undefined;
  private subs: Subscription[] = [];
  private watcher: { stop(): void } | undefined;
  private closed = false;

  constructor(
    private readonly store: ApprovalStore,
    private readonly host: ApprovalHost,
  ) {}

  async start(): Promise<void> {
    const { transport, subjects } = this.host;
    for (const verb of ['list', 'show', 'decide', 'act'] as const) {
      this.subs.push(transport.subscribe(`${subjects.prefix}.approval.api.${verb}`, (m) => void this.onApi(verb, m), QUEUE));
    }
    this.watcher = await this.store.watch((item) => this.observe(item));
    this.armSweep();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweep !== undefined) this.host.clock.clearTimeout(this.sweep);
    this.watcher?.stop();
    for (const s of this.subs) s.unsubscribe();
    for (const t of this.timers.values()) this.host.clock.clearTimeout(t.handle);
    this.timers.clear();
  }

  /** Stores a request for the action and publishes it; resolves with the item. */
  async request(req: NewRequest): Promise<ApprovalItem> {
    const now = this.host.clock.now();
    const first = req.route.chain[0];
    if (first === undefined) throw aosError('ERR_POLICY', `${req.route.rule} names no approvers`, { rule: req.route.rule });
    // Arguments are kept as JSON: what is hashed, shown to the person and performed is the same value.
    const action: BoundAction = { kind: req.action.kind, target: req.action.target, args: jsonValue(req.action.args) };
    const item: ApprovalItem = {
      id: req.id ?? newMessageId(),
      kind: 'approval',
      status: 'pending',
      createdAt: now,
      node: this.host.nodeId,
      requester: req.requester,
      role: req.role,
      owner: req.owner,
      action,
      actionHash: actionHash(action),
      rule: req.route.rule,
      correlationId: req.correlationId,
      causationId: req.causationId,
      chain: req.route.chain,
      step: 0,
      deadline: now + first.timeoutMs,
      onExhausted: req.route.onExhausted,
      history: [{ at: now, event: 'requested', by: req.requester, detail: `waiting for ${first.approvers.join(' or ')}` }],
    };
    if (req.reason !== undefined) item.reason = req.reason;
    if (!(await this.store.create(item))) throw aosError('ERR_BAD_REQUEST', `approval id ${item.id} is taken`, { id: item.id });
    this.changed(item, 'requested');
    this.arm(item); // here at once (the watch would arm it too, a moment later)
    return item;
  }

  /** An escalation from supervision or availability: a new item in the same queue. */
  async escalate(info: Omit<EscalationInfo, 'tasks'>): Promise<ApprovalItem> {
    const now = this.host.clock.now();
    const item: ApprovalItem = {
      id: newMessageId(),
      kind: 'escalation',
      status: 'open',
      createdAt: now,
      node: this.host.nodeId,
      reason: info.reason.message,
      correlationId: '', // an escalation belongs to no one chain: its tasks keep theirs
      causationId: null,
      chain: this.host.policy().defaultRoute?.chain ?? [],
      step: 0,
      deadline: 0,
      onExhausted: 'deny',
      escalation: { ...info, tasks: [] },
      history: [{ at: now, event: 'requested', by: `system/${this.host.nodeId}`, detail: `${info.reason.code}: ${info.reason.message}` }],
    };
    await this.store.create(item);
    this.changed(item, 'requested');
    return item;
  }

  /** A task that reached a subject with no instance: kept on the open escalation of that subject, for a person to act on. */
  async holdTask(subject: string, task: HeldTask): Promise<string | undefined> {
    const open = this.openEscalation(subject);
    if (open === undefined) return undefined;
    const r = await this.store.update(open, (item) => {
      if (item.status !== 'open' || item.escalation === undefined) return undefined;
      if (item.escalation.tasks.length >= MAX_HELD_TASKS) return withHistory(item, { at: task.at, event: 'task-held', detail: `task ${task.messageId} not kept (over ${MAX_HELD_TASKS}); it was dead-lettered` });
      if (task.payload.length > MAX_HELD_PAYLOAD) return withHistory(item, { at: task.at, event: 'task-held', detail: `task ${task.messageId} not kept (payload over ${MAX_HELD_PAYLOAD} bytes); it was dead-lettered` });
      item.escalation.tasks.push(task);
      return withHistory(item, { at: task.at, event: 'task-held', detail: `task ${task.messageId} on ${subject}` });
    });
    if (r?.changed === true) this.changed(r.item, 'task-held');
    return r?.changed === true ? open : undefined;
  }

  /** An instance serves `subject` again: an open escalation about it with no task held closes itself; one with tasks stays for a person. */
  async servedAgain(subject: string): Promise<void> {
    const id = this.openEscalation(subject);
    if (id === undefined) return;
    const now = this.host.clock.now();
    const by = `system/${this.host.nodeId}`;
    const r = await this.store.update(id, (item) => {
      if (item.status !== 'open' || item.history.some((h) => h.event === 'served')) return undefined;
      const served = withHistory(item, { at: now, event: 'served', by, detail: `${subject} is served again` });
      return (item.escalation?.tasks.length ?? 0) > 0 ? served : withHistory({ ...served, status: 'resolved' }, { at: now, event: 'resolved', by, detail: 'nothing was held: closed' });
    });
    if (r?.changed === true) this.changed(r.item, r.item.status === 'resolved' ? 'resolved' : 'served');
  }

  /** The newest open escalation about a subject left with no instance, if any. */
  openEscalation(subject: string): string | undefined {
    let found: ApprovalItem | undefined;
    for (const i of this.items.values()) {
      if (i.kind === 'escalation' && i.status === 'open' && i.escalation?.subject === subject && (found === undefined || i.createdAt > found.createdAt)) found = i;
    }
    return found?.id;
  }

  /** An actor started here: approved actions it is owed run now. */
  actorStarted(id: string): void {
    for (const item of this.items.values()) if (item.status === 'approved' && item.requester === id) void this.execute(item.id);
  }

  // ---- the API ---------------------------------------------------------------------------

  private async onApi(verb: 'list' | 'show' | 'decide' | 'act', m: Msg): Promise<void> {
    let body: unknown;
    try {
      body = await this.answer(verb, m);
    } catch (err) {
      const e = toAosError(err, 'ERR_BAD_REQUEST');
      body = { error: e.toWire() };
    }
    if (m.reply) this.host.transport.publish(m.reply, encoder.encode(JSON.stringify(body)), { headers: this.host.transport.jsonHeaders });
  }

  private async answer(verb: 'list' | 'show' | 'decide' | 'act', m: Msg): Promise<unknown> {
    const { value, actor } = this.readApi(m);
    switch (verb) {
      case 'list': {
        const filter = parseListBody(value);
        const all = await this.store.list();
        const items = all.filter((i) => (filter.kind === undefined || i.kind === filter.kind) && (filter.status === 'all' || (filter.status === 'open' ? OPEN_STATUSES.includes(i.status) : i.status === filter.status)));
        return { ok: true, items };
      }
      case 'show': {
        const { id } = parseShowBody(value);
        return { ok: true, item: await this.found(id) };
      }
      case 'decide':
        return { ok: true, item: await this.decide(parseDecideBody(value, actor), actor) };
      case 'act':
        return { ok: true, item: await this.act(parseActBody(value, actor), actor) };
    }
  }

  /** The request's JSON, or the msgpack value of a sealed envelope from an actor (then the approver is that actor). */
  private readApi(m: Msg): { value: unknown; actor?: string } {
    if (m.headers?.get(CONTENT_TYPE_HEADER) === CT_ENVELOPE) {
      if (!envelopeSealed(m.data, this.host.key)) throw aosError('ERR_APPROVAL_REFUSED', 'an envelope that is not sealed by a node of this namespace', { reason: 'signature' });
      const env = decodeEnvelope(m.data);
      return { value: decodeValue(env.payload, env.format), actor: env.from };
    }
    return { value: decodeValue(m.data, 'json') };
  }

  private async found(id: string): Promise<ApprovalItem> {
    const s = await this.store.get(id);
    if (s === undefined) throw notFound(id);
    return s.item;
  }

  /** A person's (or an actor's) decision: checked, then applied with compare-and-set; a refused one is recorded on the item. */
  async decide(body: DecideBody, actor?: string): Promise<ApprovalItem> {
    const now = this.host.clock.now();
    let refusal: AosError | undefined;
    const r = await this.store.update(body.id, (item) => {
      const c = checkDecision(item, body, this.host.policy(), actor);
      if (!c.ok) {
        refusal = refusalOf(item.id, c, actor ?? body.approver);
        return withHistory(item, refusedEntry(now, c, actor ?? body.approver, body.decision));
      }
      refusal = undefined;
      const approve = body.decision === 'approve';
      const decided: ApprovalItem = { ...item, status: approve ? 'approved' : 'denied', decision: { by: c.approver, decision: body.decision, at: now, ...(body.reason === undefined ? {} : { reason: body.reason }) } };
      return withHistory(decided, { at: now, event: 'decided', by: c.approver, detail: body.reason === undefined ? body.decision : `${body.decision}: ${body.reason}` });
    });
    if (r === undefined) throw notFound(body.id);
    if (refusal !== undefined) {
      this.changed(r.item, 'refused', { by: actor ?? body.approver, code: refusal.code, reason: (refusal.details as { reason?: string }).reason });
      throw refusal;
    }
    this.changed(r.item, 'decided', { by: r.item.decision?.by, decision: body.decision });
    if (r.item.status === 'denied') this.settle(r.item);
    return r.item;
  }

  /** A person's action on an escalation. */
  async act(body: ActBody, actor?: string): Promise<ApprovalItem> {
    const now = this.host.clock.now();
    let refusal: AosError | undefined;
    let by = '';
    const r = await this.store.update(body.id, (item) => {
      const c = checkAct(item, body, this.host.policy(), actor);
      if (!c.ok) {
        refusal = refusalOf(item.id, c, actor ?? body.approver);
        return withHistory(item, refusedEntry(now, c, actor ?? body.approver, body.action));
      }
      refusal = undefined;
      by = c.approver;
      const resolution = { by, action: body.action, at: now, ...(body.to === undefined ? {} : { to: body.to }), ...(body.value === undefined ? {} : { value: body.value }), ...(body.reason === undefined ? {} : { reason: body.reason }) };
      return withHistory({ ...item, status: 'resolved', resolution }, { at: now, event: 'resolved', by, detail: body.action + (body.to ? ` to ${body.to}` : '') });
    });
    if (r === undefined) throw notFound(body.id);
    if (refusal !== undefined) {
      this.changed(r.item, 'refused', { by: actor ?? body.approver, code: refusal.code });
      throw refusal;
    }
    const tasks = r.item.escalation?.tasks ?? [];
    let detail: string;
    switch (body.action) {
      case 'restart':
        // The node that raised the escalation restarts what it runs (it sees the resolution in its watch).
        detail = `restart requested of node ${r.item.node}`;
        break;
      case 'reroute':
        for (const t of tasks) this.host.reroute(t, body.to!, by);
        detail = `${tasks.length} task(s) sent to ${body.to}`;
        break;
      case 'reply':
        for (const t of tasks) this.host.reply(t, body.value, by);
        detail = `${tasks.length} task(s) answered by ${by}`;
        break;
      case 'drop':
        for (const t of tasks) this.host.drop(t, r.item, by);
        detail = `${tasks.length} task(s) dropped`;
        break;
    }
    this.changed(r.item, 'resolved', { by, action: body.action, detail });
    return r.item;
  }

  // ---- the watch: timers and execution ---------------------------------------------------

  private observe(item: ApprovalItem): void {
    if (this.closed) return;
    // Only what may still change is kept in memory; settled items live in the bucket.
    if (OPEN_STATUSES.includes(item.status)) this.items.set(item.id, item);
    else this.items.delete(item.id);
    this.settled.observe(item);
    if (item.status === 'pending') this.arm(item);
    else this.disarm(item.id);
    if (item.status === 'approved' && item.requester !== undefined && this.host.hosts(item.requester)) void this.execute(item.id);
    if (item.status === 'executing') void this.checkOrphan(item.id);
    if (item.kind === 'escalation' && item.resolution?.action === 'restart' && item.node === this.host.nodeId && !item.history.some((h) => h.event === 'executing')) void this.restartOwned(item.id);
  }

  /** A restart a person chose on an escalation this node raised: claimed once (compare-and-set), then done here. */
  private async restartOwned(id: string): Promise<void> {
    if (this.running.has(id)) return;
    this.running.add(id);
    try {
      const now = this.host.clock.now();
      const by = `system/${this.host.nodeId}`;
      const claim = await this.store.update(id, (i) => (i.history.some((h) => h.event === 'executing') ? undefined : withHistory(i, { at: now, event: 'executing', by, detail: 'restart' })));
      if (claim?.changed !== true) return;
      let detail: string;
      let ok = true;
      try {
        detail = await this.host.restart(claim.item);
      } catch (err) {
        ok = false;
        detail = toAosError(err).message;
      }
      const r = await this.store.update(id, (i) => withHistory(i, { at: this.host.clock.now(), event: ok ? 'executed' : 'failed', by, detail }));
      if (r !== undefined) this.changed(r.item, ok ? 'executed' : 'failed', { detail });
    } finally {
      this.running.delete(id);
    }
  }

  private arm(item: ApprovalItem): void {
    const t = this.timers.get(item.id);
    if (t !== undefined && t.deadline === item.deadline) return;
    this.disarm(item.id);
    const delay = Math.max(0, item.deadline - this.host.clock.now());
    const handle = this.host.clock.setTimeout(() => void this.timedOut(item.id), delay);
    this.timers.set(item.id, { handle, deadline: item.deadline });
  }

  private disarm(id: string): void {
    const t = this.timers.get(id);
    if (t === undefined) return;
    this.host.clock.clearTimeout(t.handle);
    this.timers.delete(id);
  }

  private async timedOut(id: string): Promise<void> {
    this.timers.delete(id);
    if (this.closed) return;
    try {
      const now = this.host.clock.now();
      const r = await this.store.update(id, (item) => onTimeout(item, now));
      if (r?.changed !== true) return;
      const event: HistoryEvent = r.item.status === 'pending' ? 'escalated' : r.item.status === 'expired' ? 'expired' : 'decided';
      this.changed(r.item, event, { by: 'timeout', step: r.item.step });
      if (r.item.status === 'pending') this.arm(r.item);
      if (r.item.status === 'expired') this.settle(r.item);
    } catch (err) {
      this.host.log.error({ approval: id, err: toAosError(err).toWire() }, 'an approval timeout could not be applied; retried at the next change');
    }
  }

  /** Performs an approved action once: the node that claims it (approved -> executing) performs it. */
  private async execute(id: string): Promise<void> {
    if (this.running.has(id) || this.closed) return;
    this.running.add(id);
    try {
      const now = this.host.clock.now();
      const claim = await this.store.update(id, (item) => (item.status === 'approved' && item.requester !== undefined && this.host.hosts(item.requester) ? withHistory({ ...item, status: 'executing' }, { at: now, event: 'executing', by: `system/${this.host.nodeId}` }) : undefined));
      if (claim?.changed !== true) return;
      const item = claim.item as ApprovalItem & { action: BoundAction; requester: string };
      this.changed(item, 'executing');
      let result: ActionResult;
      if (item.action.kind === 'custom') result = { ok: true, value: null };
      else {
        try {
          result = await this.host.perform(item);
        } catch (err) {
          const e = toAosError(err);
          result = { ok: false, error: { code: e.code, message: e.message } };
        }
      }
      const done = this.host.clock.now();
      const r = await this.store.update(id, (i) =>
        withHistory({ ...i, status: result.ok ? 'executed' : 'failed', result }, { at: done, event: result.ok ? 'executed' : 'failed', by: `system/${this.host.nodeId}`, ...(result.ok ? {} : { detail: `${result.error.code}: ${result.error.message}` }) }),
      );
      if (r === undefined) return;
      this.changed(r.item, result.ok ? 'executed' : 'failed', { ms: done - now });
      this.settle(r.item);
    } catch (err) {
      this.host.log.error({ approval: id, err: toAosError(err).toWire() }, 'an approved action could not be claimed or recorded');
    } finally {
      this.running.delete(id);
    }
  }

  private armSweep(): void {
    this.sweep = this.host.clock.setTimeout(() => {
      if (this.closed) return;
      for (const item of this.items.values()) if (item.status === 'executing') void this.checkOrphan(item.id);
      const keep = this.host.policy().doc.approvalRetention?.keepSettledMs;
      if (keep !== undefined) void this.settled.sweep(this.store, this.host.clock.now(), keep, this.host.log);
      this.armSweep();
    }, ORPHAN_CHECK_MS);
  }

  /**
   * An approved action claimed by a node that is gone (its ping finds no one), or by this node's
   * id in an earlier process: it may or may not have taken effect, so it is not performed again
   * (at most once). It is `failed` with ERR_OUTCOME_UNKNOWN, for a person to look at, and the
   * requester is told. Should the node that claimed it come back and finish, its result is
   * stored over this one (the history keeps both).
   */
  private async checkOrphan(id: string): Promise<void> {
    const item = this.items.get(id);
    if (item === undefined || item.status !== 'executing' || this.running.has(id) || this.checking.has(id) || this.closed) return;
    const claim = lastClaim(item);
    if (claim?.by === undefined || !claim.by.startsWith('system/')) return;
    const node = claim.by.slice('system/'.length);
    this.checking.add(id);
    try {
      if (node !== this.host.nodeId && (await this.answers(node))) return;
      const now = this.host.clock.now();
      const detail = `node ${node} claimed it and stopped before it recorded how it ended: whether the action took effect is unknown, and it is not performed again`;
      const r = await this.store.update(id, (i) => {
        const c = lastClaim(i);
        if (i.status !== 'executing' || c?.at !== claim.at || c.by !== claim.by) return undefined;
        return withHistory({ ...i, status: 'failed', result: { ok: false, error: { code: 'ERR_OUTCOME_UNKNOWN', message: detail } } }, { at: now, event: 'failed', by: `system/${this.host.nodeId}`, detail });
      });
      if (r?.changed !== true) return;
      this.host.log.warn({ approval: id, node }, 'an approved action was left executing by a node that is gone: failed with ERR_OUTCOME_UNKNOWN');
      this.changed(r.item, 'failed', { code: 'ERR_OUTCOME_UNKNOWN', detail });
      this.settle(r.item);
    } catch (err) {
      this.host.log.error({ approval: id, err: toAosError(err).toWire() }, 'could not check an approved action left executing; looked at again later');
    } finally {
      this.checking.delete(id);
    }
  }

  /** The node answers its control ping (a timeout counts as an answer: a busy node is not a gone one). */
  private async answers(node: string): Promise<boolean> {
    const { transport, subjects } = this.host;
    try {
      await transport.request(subjects.control(node, 'ping'), new Uint8Array(), transport.jsonHeaders, PING_TIMEOUT_MS);
      return true;
    } catch (err) {
      return toAosError(err).code !== 'ERR_UNKNOWN_ACTOR';
    }
  }

  /** Tells the requester how its request ended. */
  private settle(item: ApprovalItem): void {
    if (item.requester === undefined || item.action === undefined) return;
    const status = item.status as ApprovalOutcome['status'];
    const outcome: ApprovalOutcome = { approvalId: item.id, status, action: item.action };
    if (item.decision !== undefined) {
      outcome.decidedBy = item.decision.by;
      if (item.decision.reason !== undefined) outcome.reason = item.decision.reason;
    }
    if (item.result?.ok === true) outcome.result = item.result.value;
    if (item.result?.ok === false) outcome.error = item.result.error;
    try {
      this.host.deliver(item as ApprovalItem & { requester: string }, outcome);
    } catch (err) {
      this.host.log.error({ approval: item.id, err: toAosError(err).toWire() }, 'the outcome of an approval could not be sent to its actor (it is on the item)');
    }
  }

  /** Publishes the change on `<ns>.approval.<id>` and records it in the trace. */
  private changed(item: ApprovalItem, event: HistoryEvent, extra: Record<string, unknown> = {}): void {
    if (OPEN_STATUSES.includes(item.status)) this.items.set(item.id, item);
    else this.items.delete(item.id);
    this.settled.observe(item);
    const { transport, subjects, clock, nodeId } = this.host;
    try {
      transport.publish(subjects.approval(item.id), encoder.encode(JSON.stringify({ event, item })), { headers: transport.jsonHeaders });
    } catch (err) {
      this.host.log.warn({ approval: item.id, err: toAosError(err).toWire() }, 'could not publish an approval event');
    }
    const record: Record<string, unknown> = {
      type: 'approval',
      event,
      at: clock.now(),
      node: nodeId,
      id: item.id,
      kind: item.kind,
      status: item.status,
      waitedMs: clock.now() - item.createdAt,
      ...extra,
    };
    if (item.correlationId !== '') record.correlationId = item.correlationId;
    // Attached, in the causal tree, to the message whose turn made the request.
    if (item.causationId !== null) record.messageId = item.causationId;
    if (item.requester !== undefined) record.actor = item.requester;
    if (item.action !== undefined) record.action = { kind: item.action.kind, target: item.action.target };
    if (item.escalation !== undefined) record.escalation = { reason: item.escalation.reason, subject: item.escalation.subject, supervisor: item.escalation.supervisor };
    this.host.trace(record);
  }
}

type Refused = Extract<Checked, { ok: false }>;

/** The error a refused decision or action raises. */
function refusalOf(id: string, c: Refused, by: string): AosError {
  return aosError(c.code, c.message, { id, approver: by, ...(c.reason === undefined ? {} : { reason: c.reason }) });
}

/** The history entry of a refused decision or action (`what`: approve, deny, restart, ...). */
function refusedEntry(at: number, c: Refused, by: string, what: string): HistoryEntry {
  return { at, event: 'refused', by, detail: `${c.code}${c.reason ? ` (${c.reason})` : ''}: ${what}` };
}

function notFound(id: string): AosError {
  return aosError('ERR_APPROVAL_NOT_FOUND', `no approval request or escalation ${JSON.stringify(id)}`, { id });
}

/** A value as JSON would carry it (what the store keeps and the person sees). */
function jsonValue(v: unknown): unknown {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : typeof x === 'bigint' ? x.toString() : x))) as unknown;
}

/** The last claim on an item: who moved it to `executing`, and when. */
function lastClaim(item: ApprovalItem): HistoryEntry | undefined {
  for (let i = item.history.length - 1; i >= 0; i--) if (item.history[i]!.event === 'executing') return item.history[i];
  return undefined;
}
