// What a handler asks of the kernel while its turn runs, and where the kernel answers: asks
// and tool calls, decided by the broker when they are made (the handler learns of a denial at
// once), and the one check every reply subject passes before the kernel answers on it.

import type { Logger } from 'pino';
import type { ActorCell, Delivery } from './actor-cell.js';
import { parseAgentId } from './address.js';
import { deniedError, type Broker } from './broker/broker.js';
import type { Dispatcher } from './dispatcher.js';
import { decodeValue } from './envelope.js';
import { aosError, toAosError, type AosError } from './errors/aos-error.js';
import type { Origin, Outbox } from './outbox.js';
import type { ApprovalFromWorker, AskAnswer, AskFromWorker, CallFromWorker } from './pool.js';
import type { ApprovalRoute } from './broker/policy.js';
import type { ApprovalService } from './approvals/approval-service.js';
import type { BoundAction } from './approvals/approval-types.js';
import type { Subjects } from './subjects.js';
import type { OtelSpans } from './trace/otel.js';
import type { ToolRegistry } from './tools/tool-registry.js';

export interface WorkerRequestDeps {
  cells: Map<string, ActorCell>;
  broker: Broker;
  subjects: Subjects;
  dispatcher: Dispatcher;
  tools: ToolRegistry;
  log: Logger;
  outbox: Outbox;
  /** A value as msgpack bytes within the node's message limit (throws ERR_ENCODE / ERR_PAYLOAD_TOO_LARGE). */
  encode: (value: unknown) => Uint8Array;
  /** OpenTelemetry spans for tool calls, when a tracer provider is registered. */
  otel?: OtelSpans | undefined;
  /** The node's approval queue (undefined without JetStream: held actions are then ERR_APPROVAL_REQUIRED). */
  approvals: () => ApprovalService | undefined;
}

function notRunning(self: string): AskAnswer {
  return { ok: false, error: aosError('ERR_ACTOR_STOPPED', `actor ${self} is not running`, { actorId: self }).toWire() };
}

export class WorkerRequests {
  constructor(private readonly deps: WorkerRequestDeps) {}

  /** An ask from a handler. */
  async ask(ask: AskFromWorker): Promise<AskAnswer> {
    const { cells, broker, subjects, dispatcher } = this.deps;
    const cell = cells.get(ask.self);
    if (cell === undefined) return notRunning(ask.self);
    let subject: string;
    try {
      subject = subjects.actor(parseAgentId(ask.to));
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    }
    const d = broker.decide({ id: cell.id, type: cell.addr.type }, 'ask', subject, { ...(ask.causationId === null ? {} : { messageId: ask.causationId }), correlationId: ask.correlationId });
    if (!d.allow) return { ok: false, error: deniedError(cell.id, 'ask', subject, d).toWire() };
    dispatcher.waitingOnAsk(1);
    try {
      const origin: Origin = { from: ask.self, correlationId: ask.correlationId, causationId: ask.causationId };
      const reply = await this.deps.outbox.ask(origin, ask.to, { format: 'msgpack', payload: ask.payload }, ask.timeoutMs);
      return { ok: true, format: reply.format, payload: reply.payload };
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    } finally {
      dispatcher.waitingOnAsk(-1);
    }
  }

  /** A tool call from a handler: decided by the broker, then validated and run here, in the kernel. */
  async call(call: CallFromWorker): Promise<AskAnswer> {
    const { cells, broker, dispatcher, tools } = this.deps;
    const cell = cells.get(call.self);
    if (cell === undefined) return notRunning(call.self);
    const actor = { id: cell.id, type: cell.addr.type };
    let args: unknown;
    try {
      args = decodeValue(call.args, 'msgpack');
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    }
    const d = broker.decide(actor, 'call', call.tool, { ...(call.causationId === null ? {} : { messageId: call.causationId }), correlationId: call.correlationId }, { args: () => args });
    if (!d.allow && d.route !== undefined) return this.hold(cell, { kind: 'call', target: call.tool, args }, d.route, d, call);
    if (!d.allow) return { ok: false, error: deniedError(cell.id, 'call', call.tool, d).toWire() };
    dispatcher.waitingOnAsk(1);
    const otel = this.deps.otel;
    const startedAt = otel?.now() ?? 0;
    let outcome = 'ok';
    try {
      const result = await tools.call({
        actor: { id: cell.id, role: d.role, owner: d.owner },
        tool: call.tool,
        args,
        timeoutMs: call.timeoutMs,
        correlationId: call.correlationId,
        report: (unit, amount) => broker.report(actor, unit, amount),
      });
      return { ok: true, format: 'msgpack', payload: this.deps.encode(result) };
    } catch (err) {
      const error = toAosError(err, 'ERR_TOOL_FAILED', { tool: call.tool });
      outcome = error.code;
      return { ok: false, error: error.toWire() };
    } finally {
      dispatcher.waitingOnAsk(-1);
      otel?.toolCall(cell.id, call.tool, call.correlationId, call.causationId, startedAt, otel.now(), outcome);
    }
  }

  /** A held action becomes a stored request; the handler gets ERR_APPROVAL_PENDING with its id (or ERR_APPROVAL_REQUIRED without a queue). */
  private async hold(cell: ActorCell, action: BoundAction, route: ApprovalRoute, d: { role: string | null; owner: string | null; rule: string; reason?: string; code?: string; policy: string }, ids: { correlationId: string; causationId: string | null }): Promise<AskAnswer> {
    const approvals = this.deps.approvals();
    if (approvals === undefined) return { ok: false, error: deniedError(cell.id, action.kind, action.target, { allow: false, rule: d.rule, reason: 'approval', code: 'ERR_APPROVAL_REQUIRED', policy: d.policy }).toWire() };
    try {
      const item = await approvals.request({ requester: cell.id, role: d.role, owner: d.owner, action, route, correlationId: ids.correlationId, causationId: ids.causationId });
      return { ok: false, error: pendingError(cell.id, action, item.id, route.rule).toWire() };
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    }
  }

  /** ctx.requestApproval: checked against the role's grants (an approval never widens them), then stored. */
  async approval(req: ApprovalFromWorker): Promise<AskAnswer> {
    const { cells, broker, subjects } = this.deps;
    const cell = cells.get(req.self);
    if (cell === undefined) return notRunning(req.self);
    const approvals = this.deps.approvals();
    if (approvals === undefined) return { ok: false, error: aosError('ERR_CONFIG', 'approvals need a NATS server with JetStream', { actorId: cell.id }).toWire() };
    let args: unknown;
    let subject = req.target;
    try {
      args = decodeValue(req.args, 'msgpack');
      if (req.kind === 'tell') subject = subjects.actor(parseAgentId(req.target));
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    }
    const policy = broker.policy;
    const ids = { ...(req.causationId === null ? {} : { messageId: req.causationId }), correlationId: req.correlationId };
    let route: ApprovalRoute | undefined;
    if (req.kind !== 'custom') {
      const s = policy.check(cell.addr.type, req.kind, subject, cell.id);
      if (!s.allow) {
        broker.recordRefused({ id: cell.id, type: cell.addr.type }, req.kind, subject, s.reason ?? 'denied', ids, s.rule);
        return { ok: false, error: deniedError(cell.id, req.kind, subject, { ...s, policy: policy.version }).toWire() };
      }
      route = s.approvals === undefined ? undefined : policy.approvalFor(cell.addr.type, s.approvals, args);
    }
    route ??= policy.defaultRoute;
    if (route === undefined) return { ok: false, error: aosError('ERR_POLICY', `no approval chain for ${req.kind} ${req.target}: the policy has no matching approval rule and no "approvalDefaults"`, { actorId: cell.id }).toWire() };
    const assigned = policy.assignment(cell.addr.type);
    try {
      const item = await approvals.request({
        requester: cell.id,
        role: assigned?.role ?? null,
        owner: assigned?.owner ?? null,
        action: { kind: req.kind, target: req.target, args },
        route,
        reason: req.reason,
        correlationId: req.correlationId,
        causationId: req.causationId,
      });
      return { ok: true, format: 'msgpack', payload: this.deps.encode({ approvalId: item.id }) };
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    }
  }

  /** No request may aim the kernel's replies at runtime or system subjects (a confused-deputy attack; a
   *  captured envelope replayed with another reply subject too: the reply subject is not sealed). */
  replyAllowed(d: Delivery, from: string): boolean {
    if (d.replyTo === undefined) return true;
    const to = d.replyTo;
    if (!to.startsWith('$') && !to.startsWith(`${this.deps.subjects.prefix}.`)) return true;
    this.deps.broker.recordDenial(from, 'reply', to, 'reply', 'builtin:reply-subject', { messageId: d.env.id, correlationId: d.env.correlationId }, { requester: d.env.from });
    this.deps.log.warn({ actor: from, replyTo: to, messageId: d.env.id }, 'reply refused: the reply subject is a runtime or system subject');
    return false;
  }
}

/** What the handler gets for an action held for a person. */
export function pendingError(actor: string, action: BoundAction, approvalId: string, rule: string): AosError {
  return aosError('ERR_APPROVAL_PENDING', `${action.kind} ${action.target} by ${actor} waits for a person (${rule}): approval ${approvalId}`, { actorId: actor, action: action.kind, target: action.target, reason: 'approval', approvalId, rule });
}
