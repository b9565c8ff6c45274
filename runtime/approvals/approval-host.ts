// What the approval service does on a node: perform an approved action as its requester
// (the broker decides it again, as approved), send outcomes to actors, and carry out what a
// person chose for an escalation (reroute or answer held tasks; restarts go to the node that
// raised the escalation, which sees the resolution in its watch).

import type { ActorCell } from '../actor-cell.js';
import { parseAgentId } from '../address.js';
import { deniedError } from '../broker/broker.js';
import { decodeValue, type Envelope } from '../envelope.js';
import { toAosError } from '../errors/aos-error.js';
import type { NodeCore } from '../node-core.js';
import type { ToolRegistry } from '../tools/tool-registry.js';
import type { ApprovalHost } from './approval-service.js';
import type { ActionResult, ApprovalItem, BoundAction, HeldTask } from './approval-types.js';

const encoder = new TextEncoder();

export interface ApprovalHostDeps {
  core: NodeCore;
  tools: ToolRegistry;
  /** A value as msgpack within the node's message limit. */
  encode: (value: unknown) => Uint8Array;
  /** Restarts what an escalation names, on this node; resolves with what was done. */
  restart: (item: ApprovalItem) => Promise<string>;
}

export function nodeApprovalHost(deps: ApprovalHostDeps): ApprovalHost {
  const { core } = deps;
  // What the approval makes (the action, the outcome message) is caused by the message whose turn asked: it nests there in `trace show`.
  const origin = (item: ApprovalItem, from: string) => ({ from, correlationId: item.correlationId, causationId: item.causationId ?? item.id });
  return {
    nodeId: core.nodeId,
    subjects: core.subjects,
    clock: core.clock,
    log: core.log,
    transport: core.transport,
    key: core.key,
    policy: () => core.broker.policy,
    trace: (record) => core.trace.other(record),
    hosts: (id) => core.cells.get(id)?.status === 'running',
    perform: (item) => perform(deps, item, origin(item, item.requester)),
    deliver: (item, outcome) => {
      core.outbox.tell(origin(item, core.systemId), item.requester, { format: 'msgpack', payload: deps.encode(outcome) }, 'approval');
    },
    restart: (item) => deps.restart(item),
    reroute: (task, to, by) => {
      core.transport.publish(to, taskBytes(task), { headers: core.transport.jsonHeaders, ...(task.replyTo === undefined ? {} : { reply: task.replyTo }) });
      core.log.info({ task: task.messageId, from: task.subject, to, by }, 'escalated task rerouted by a person');
    },
    reply: (task, value, by) => {
      if (task.replyTo === undefined) {
        core.log.info({ task: task.messageId, by }, 'escalated task answered by a person; its sender did not wait for a reply (the answer is on the item)');
        return;
      }
      core.transport.publish(task.replyTo, encoder.encode(JSON.stringify(value ?? null)), { headers: core.transport.jsonHeaders });
      core.log.info({ task: task.messageId, by }, 'escalated task answered by a person, in the agent\'s place');
    },
    drop: (task, item, by) => {
      // The task was answered ERR_UNAVAILABLE and dead-lettered when it arrived: dropping only closes it here.
      core.log.info({ task: task.messageId, escalation: item.id, by }, 'escalated task dropped by a person');
    },
  };
}

/** The task's payload as it was sent (JSON text from most clients). */
function taskBytes(task: HeldTask): Uint8Array {
  return task.encoding === 'utf8' ? encoder.encode(task.payload) : Buffer.from(task.payload, 'base64');
}

/** A task kept on an escalation: its value as JSON text when it decodes (envelopes from actors are msgpack). */
export function heldTask(env: Envelope, subject: string, replyTo: string | undefined, at: number): HeldTask {
  let payload: string;
  let encoding: 'utf8' | 'base64' = 'utf8';
  try {
    payload = env.format === 'json' ? new TextDecoder('utf-8', { fatal: true }).decode(env.payload) : JSON.stringify(decodeValue(env.payload, env.format));
  } catch {
    payload = Buffer.from(env.payload).toString('base64');
    encoding = 'base64';
  }
  const task: HeldTask = { subject, correlationId: env.correlationId, messageId: env.id, payload, encoding, at };
  if (replyTo !== undefined) task.replyTo = replyTo;
  return task;
}

async function perform(deps: ApprovalHostDeps, item: ApprovalItem & { action: BoundAction; requester: string }, from: { from: string; correlationId: string; causationId: string | null }): Promise<ActionResult> {
  const { core } = deps;
  const cell: ActorCell | undefined = core.cells.get(item.requester);
  if (cell === undefined) return { ok: false, error: { code: 'ERR_ACTOR_STOPPED', message: `${item.requester} is not running on this node` } };
  const actor = { id: cell.id, type: cell.addr.type };
  const { kind, target, args } = item.action;
  const subject = kind === 'tell' ? core.subjects.actor(parseAgentId(target)) : target;
  if (kind === 'custom') return { ok: true, value: null };
  // Decided again: the grants, suspensions and limits in force now still apply; only the approval rule is satisfied.
  const d = core.broker.decide(actor, kind, subject, { messageId: item.id, correlationId: item.correlationId }, { approved: item.id });
  if (!d.allow) {
    const e = deniedError(cell.id, kind, subject, d);
    return { ok: false, error: { code: e.code, message: e.message } };
  }
  try {
    if (kind === 'call') {
      const value = await deps.tools.call({
        actor: { id: cell.id, role: d.role, owner: d.owner },
        tool: target,
        args,
        timeoutMs: 60_000,
        correlationId: item.correlationId,
        report: (unit, amount) => core.broker.report(actor, unit, amount),
      });
      return { ok: true, value: value ?? null };
    }
    const body = { format: 'msgpack' as const, payload: deps.encode(args) };
    if (kind === 'publish') core.outbox.publish(from, target, body);
    else core.outbox.tell(from, target, body);
    return { ok: true, value: null };
  } catch (err) {
    const e = toAosError(err, 'ERR_TOOL_FAILED', { tool: target });
    return { ok: false, error: { code: e.code, message: e.message } };
  }
}

