// The policy file: roles with their grants, limits and approval rules, and the role each
// actor type plays. Validated with zod at load, so a broken policy is refused with every
// problem listed by path (ERR_POLICY) and never half-applied.

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { tokenProblem } from '../address.js';
import { aosError, type AosError } from '../errors/aos-error.js';
import { subjectProblem } from '../subjects.js';

export const ACTIONS = ['publish', 'subscribe', 'tell', 'ask', 'call', 'spawn', 'stop'] as const;
export type Action = (typeof ACTIONS)[number];

const pattern = (what: string) =>
  z.string().superRefine((v, ctx) => {
    const problem = subjectProblem(v, { wildcards: true });
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${what} ${JSON.stringify(v)} ${problem}` });
  });

const actorType = z.string().superRefine((v, ctx) => {
  if (v === '*') return;
  const problem = tokenProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `actor type ${JSON.stringify(v)} ${problem}` });
});

const grant = <T extends z.ZodType<string>>(item: T) =>
  z
    .object({
      allow: z.array(item).default([]),
      deny: z.array(item).default([]),
    })
    .strict()
    .default({ allow: [], deny: [] });

const scope = z
  .object({
    action: z.enum(ACTIONS).optional(),
    target: pattern('target').optional(),
  })
  .strict();

const budget = z
  .object({
    name: z.string().min(1),
    limit: z.number().positive(),
    /** The budget refills after this many ms (default: never, for the life of the actor instance). */
    windowMs: z.number().int().positive().optional(),
    /** Count actions: each allowed action in this scope uses 1. */
    counts: scope.optional(),
    /** Or sum units the actor (or a tool) reports, such as model tokens or cost. */
    unit: z.string().min(1).optional(),
    /** For unit budgets: the actions refused once it is spent (default: every action). */
    appliesTo: scope.optional(),
    onExhausted: z.enum(['deny', 'suspend', 'approval']).default('deny'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.counts === undefined) === (b.unit === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a budget has exactly one of "counts" (count actions) or "unit" (sum reported units)' });
    }
    if (b.counts !== undefined && b.appliesTo !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['appliesTo'], message: 'a counting budget applies to what it counts; "appliesTo" is for unit budgets' });
    }
  });

/** One link of an approval chain: the roles that may decide (people's, in `people`, or actors'), and how long they have. */
const step = z
  .object({
    approvers: z.array(z.string().min(1)).min(1),
    timeoutMs: z.number().int().positive(),
  })
  .strict();

const chain = z.array(step).min(1);
/** When the whole chain let its time run out: deny (the default; the request expires) or approve. */
const onExhaustedApproval = z.enum(['deny', 'approve']);

/** A condition on the action's arguments (a tool's input, a message's value): exactly one comparison. */
const condition = z
  .object({
    path: z.string().min(1),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    eq: z.unknown().optional(),
    ne: z.unknown().optional(),
    in: z.array(z.unknown()).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ops = ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'in'].filter((k) => k in c);
    if (ops.length !== 1) ctx.addIssue({ code: 'custom', message: `a condition has exactly one of gt, gte, lt, lte, eq, ne, in (found ${ops.length === 0 ? 'none' : ops.join(', ')})` });
  });

/** An action that needs a human decision: a tool call or a message, optionally only when its arguments meet every condition. */
const approvalRule = z
  .object({
    action: z.enum(['call', 'publish', 'tell']),
    target: pattern('target').optional(),
    when: z.array(condition).default([]),
    /** Who decides, in order, each with a time limit (default: the policy's `approvalDefaults.chain`). */
    chain: chain.optional(),
    onExhausted: onExhaustedApproval.optional(),
  })
  .strict();

const role = z
  .object({
    description: z.string().optional(),
    publish: grant(pattern('subject')),
    subscribe: grant(pattern('subject')),
    tell: grant(pattern('subject')),
    ask: grant(pattern('subject')),
    tools: grant(pattern('tool')),
    spawn: grant(actorType),
    rateLimit: z
      .object({
        perSecond: z.number().positive(),
        burst: z.number().int().min(1),
      })
      .strict()
      .optional(),
    budgets: z.array(budget).default([]),
    /** Audited actions: held back (denied, reason `audit`) while the trace cannot take their records (audit before act). */
    audit: z.array(scope).default([]),
    /** Actions that need a human decision: held as an approval request (ERR_APPROVAL_PENDING) and performed once approved. */
    approvals: z.array(approvalRule).default([]),
  })
  .strict();

/** A field path in a payload: keys separated by dots, `*` for any one key or array index. */
const fieldPath = z.string().superRefine((v, ctx) => {
  if (v.split('.').some((k) => k === '')) ctx.addIssue({ code: 'custom', message: `field path ${JSON.stringify(v)} has an empty key` });
});

/** What the trace records of message payloads. Without this section, no payload is ever recorded. */
const trace = z
  .object({
    /** Messages whose payloads are recorded (decoded), by the subject they arrive on. */
    payloads: z.object({ subjects: z.array(pattern('subject')) }).strict().optional(),
    /**
     * Field paths whose values are replaced by "***" in every recorded payload. A path starts at
     * the top level of the value: `password` masks a top-level field only, `*.password` one level down,
     * `customers.*.email` the email of every customer.
     */
    mask: z.array(fieldPath).default([]),
  })
  .strict();

/** A person who may decide approvals: the roles they hold and the ed25519 public key their decisions are signed with. */
const person = z
  .object({
    roles: z.array(z.string().min(1)).min(1),
    /** Base64 of the SPKI DER encoding (what `aos approvals keygen` prints). */
    publicKey: z.string().superRefine((v, ctx) => {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v) || Buffer.from(v, 'base64').length !== 44) ctx.addIssue({ code: 'custom', message: 'publicKey must be the base64 SPKI DER of an ed25519 public key (44 bytes; see `aos approvals keygen`)' });
    }),
  })
  .strict();

const schema = z
  .object({
    name: z.string().optional(),
    roles: z.record(z.string().min(1), role),
    /** The role (and owner) of each actor type; "*" for every type not listed. */
    actors: z.record(actorType, z.object({ role: z.string().min(1), owner: z.string().min(1).optional() }).strict()),
    trace: trace.optional(),
    /** The people who decide approvals, by name. */
    people: z.record(z.string().min(1), person).optional(),
    /** The chain for approval rules that name none, for requests actors make with ctx.requestApproval, and for budgets that run out with onExhausted "approval". */
    approvalDefaults: z.object({ chain, onExhausted: onExhaustedApproval.default('deny') }).strict().optional(),
    /** How long a settled approval or escalation stays in the queue before the nodes remove it (default: kept). */
    approvalRetention: z.object({ keepSettledMs: z.number().int().positive() }).strict().optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    for (const [name, r] of Object.entries(p.roles)) {
      r.approvals.forEach((a, i) => {
        if (a.chain === undefined && p.approvalDefaults === undefined) {
          ctx.addIssue({ code: 'custom', path: ['roles', name, 'approvals', i, 'chain'], message: 'an approval rule needs a "chain" (who approves, for how long) unless the policy has "approvalDefaults"' });
        }
      });
    }
    for (const [type, a] of Object.entries(p.actors)) {
      if (!Object.hasOwn(p.roles, a.role)) ctx.addIssue({ code: 'custom', path: ['actors', type, 'role'], message: `role ${JSON.stringify(a.role)} is not defined in "roles"` });
    }
  });

export type PolicyDoc = z.infer<typeof schema>;
export type RoleDoc = PolicyDoc['roles'][string];
export type BudgetDoc = RoleDoc['budgets'][number];
export type ScopeDoc = z.infer<typeof scope>;
export type ApprovalRuleDoc = RoleDoc['approvals'][number];
export type ChainStepDoc = z.infer<typeof step>;

function policyError(message: string, details: Record<string, unknown>, cause?: unknown): AosError {
  return aosError('ERR_POLICY', message, details, cause);
}

/** Validates a policy value; throws ERR_POLICY listing every problem with its path. */
export function parsePolicy(input: unknown, source = 'policy'): PolicyDoc {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  const shown = issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`).join('; ');
  throw policyError(`${source} is not a valid policy (${issues.length} problem${issues.length === 1 ? '' : 's'}): ${shown}`, { source, issues });
}

/** Parses policy JSON text (from a file or the store); throws ERR_POLICY on bad JSON or a bad policy. */
export function parsePolicyText(text: string, source = 'policy'): PolicyDoc {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw policyError(`${source} is not valid JSON: ${(err as Error).message}`, { source, issues: [{ path: '(root)', message: (err as Error).message }] }, err);
  }
  return parsePolicy(value, source);
}

export async function loadPolicyFile(path: string): Promise<PolicyDoc> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw policyError(`cannot read policy file ${path}: ${(err as Error).message}`, { source: path, issues: [] }, err);
  }
  return parsePolicyText(text, path);
}
