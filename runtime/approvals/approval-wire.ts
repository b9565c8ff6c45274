// The approval API's request bodies, validated (zod): what any NATS client sends on
// `<ns>.approval.api.<verb>`. A malformed body is ERR_BAD_REQUEST naming the problem.

import { z } from 'zod';
import { aosError } from '../errors/aos-error.js';
import type { ActBody, ApprovalStatus, DecideBody } from './approval-types.js';

const id = z.string().regex(/^[0-9a-f]{16}$/, 'an approval id is 16 hex digits');
const STATUSES = ['pending', 'approved', 'executing', 'executed', 'denied', 'expired', 'failed', 'open', 'resolved'] as const;

const listBody = z.object({ status: z.enum(['open', 'all', ...STATUSES]).default('open'), kind: z.enum(['approval', 'escalation']).optional() }).strict();
const showBody = z.object({ id }).strict();

// From an actor (a sealed envelope), the approver is the actor and nothing is signed.
const signed = { approver: z.string().min(1), at: z.number(), signature: z.string().min(1), reason: z.string().max(2_000).optional() };
const decideBody = z.object({ id, decision: z.enum(['approve', 'deny']), actionHash: z.string().regex(/^[0-9a-f]{64}$/), ...signed }).strict();
const actBody = z
  .object({ id, action: z.enum(['restart', 'reroute', 'drop', 'reply']), to: z.string().min(1).optional(), value: z.unknown().optional(), ...signed })
  .strict()
  .superRefine((b, ctx) => {
    if (b.action === 'reroute' && b.to === undefined) ctx.addIssue({ code: 'custom', path: ['to'], message: 'reroute needs "to": the subject to send the held tasks to' });
    if (b.action === 'reply' && b.value === undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: 'reply needs "value": the answer to give in the agent\'s place' });
  });

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  throw aosError('ERR_BAD_REQUEST', `${what}: ${issues}`, { issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) });
}

export function parseListBody(v: unknown): { status: 'open' | 'all' | ApprovalStatus; kind?: 'approval' | 'escalation' } {
  return parse(listBody, v, 'approvals list') as { status: 'open' | 'all' | ApprovalStatus; kind?: 'approval' | 'escalation' };
}

export function parseShowBody(v: unknown): { id: string } {
  return parse(showBody, v, 'approvals show');
}

/** An actor's body needs no signature: its envelope's seal names it. */
function withActor(v: unknown, actor: string | undefined): unknown {
  if (actor === undefined || typeof v !== 'object' || v === null) return v;
  return { at: 0, signature: 'sealed', ...(v as object), approver: actor };
}

export function parseDecideBody(v: unknown, actor?: string): DecideBody {
  return parse(decideBody, withActor(v, actor), 'approvals decide') as DecideBody;
}

export function parseActBody(v: unknown, actor?: string): ActBody {
  return parse(actBody, withActor(v, actor), 'approvals act') as ActBody;
}
