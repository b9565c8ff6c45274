// A validated policy compiled for fast decisions: patterns tokenised once, and the static
// part of every decision (grants, deny lists, reserved subjects, approval rules) cached per
// (actor type, action, target). Immutable: a reload builds a new Policy and swaps it whole,
// so every decision cites exactly one version.

import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import type { ErrorCode } from '../errors/codes.js';
import { subjectProblem } from '../subjects.js';
import { compileMask, type MaskPath } from '../trace/payloads.js';
import { conditionsHold, type Condition } from '../approvals/approval-rules.js';
import type { Action, ChainStepDoc, PolicyDoc, RoleDoc, ScopeDoc } from './policy-schema.js';
import { firstContaining, firstOverlapping, isSubset, overlaps, patternList, tokens, type PatternList } from './subject-pattern.js';

export type DenyReason =
  | 'subject' // malformed target
  | 'no-role' // the actor type has no role
  | 'denied' // a deny list matched
  | 'not-granted' // nothing allows it (deny by default)
  | 'reserved' // a runtime or NATS subject, not explicitly granted
  | 'approval' // a human must decide
  | 'rate-limit'
  | 'budget'
  | 'suspended'
  | 'spoof' // a message claimed an identity it does not have
  | 'reply' // a reply to a subject the kernel does not own
  | 'audit'; // an audited action while the trace cannot record it

export interface StaticDecision {
  allow: boolean;
  /** The rule that decided, as a path into the policy (or a built-in rule). */
  rule: string;
  reason?: DenyReason;
  /** The error a denied action raises. */
  code?: ErrorCode;
  /**
   * Allowed by the grants, but approval rules cover the target: their indices in the role's
   * `approvals`, in order. The first whose conditions hold for the action's arguments holds the
   * action for a person (approvalFor).
   */
  approvals?: readonly number[];
  /** A held action: the approval chain its request follows (never cached: it depends on the arguments). */
  route?: ApprovalRoute;
}

/** An approval rule as compiled: the chain resolved against the policy's defaults. */
export interface ApprovalRoute {
  /** The rule's path in the policy, e.g. `roles.payments.approvals[0]`, or `approvalDefaults`. */
  rule: string;
  when: readonly Condition[];
  chain: ChainStepDoc[];
  onExhausted: 'deny' | 'approve';
}

interface CompiledGrant {
  allow: PatternList;
  deny: PatternList;
}

interface CompiledRole {
  name: string;
  doc: RoleDoc;
  grants: Record<'publish' | 'subscribe' | 'tell' | 'ask' | 'tools', CompiledGrant>;
  approvals: ({ action: Action; target: readonly string[] | undefined } & ApprovalRoute)[];
}

interface ReservedArea {
  name: string;
  /** Some subject the target can reach lies in the area. */
  touches(target: readonly string[]): boolean;
  /** A grant pattern that names the area explicitly. */
  names(pattern: readonly string[]): boolean;
}

const DOLLAR: ReservedArea = {
  name: '$*',
  touches: (t) => t[0]!.startsWith('$') || t[0] === '*' || t[0] === '>',
  names: (p) => p[0]!.startsWith('$'),
};

function area(pattern: string): ReservedArea {
  const toks = tokens(pattern);
  return { name: pattern, touches: (t) => overlaps(t, toks), names: (p) => isSubset(p, toks) };
}

const CACHE_LIMIT = 50_000;

/** The version of a policy: a digest of its canonical JSON, equal on every node that holds it. */
export function policyDigest(doc: PolicyDoc): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 12);
}

export class Policy {
  readonly version: string;
  private readonly roles = new Map<string, CompiledRole>();
  private readonly reserved: ReservedArea[];
  private readonly cache = new Map<string, StaticDecision>();
  /** Subjects whose message payloads the trace records (none unless the policy's `trace` section names some). */
  private readonly payloadSubjects: PatternList;
  private readonly payloadCache = new Map<string, boolean>();
  /** Field paths masked in every recorded payload. */
  readonly mask: readonly MaskPath[];

  constructor(
    readonly doc: PolicyDoc,
    readonly namespace: string,
    /** Where it came from: a file or value given at start, the cluster store, or the built-in default. */
    readonly origin: 'local' | 'store' | 'default' = 'local',
    /** The store's revision, when it came from the store. */
    readonly revision = 0,
  ) {
    this.version = policyDigest(doc);
    this.payloadSubjects = patternList(doc.trace?.payloads?.subjects ?? []);
    this.mask = compileMask(doc.trace?.mask ?? []);
    this.reserved = [DOLLAR, area('_INBOX.>'), area(`${namespace}.ctl.>`), area(`${namespace}.trace.>`), area(`${namespace}.approval.>`)];
    for (const [name, r] of Object.entries(doc.roles)) {
      const g = (x: { allow: string[]; deny: string[] }): CompiledGrant => ({ allow: patternList(x.allow), deny: patternList(x.deny) });
      this.roles.set(name, {
        name,
        doc: r,
        grants: { publish: g(r.publish), subscribe: g(r.subscribe), tell: g(r.tell), ask: g(r.ask), tools: g(r.tools) },
        approvals: r.approvals.map((a, i) => ({
          action: a.action,
          target: a.target === undefined ? undefined : tokens(a.target),
          rule: `roles.${name}.approvals[${i}]`,
          when: a.when,
          // The schema refuses a rule with no chain when there are no defaults.
          chain: a.chain ?? doc.approvalDefaults?.chain ?? [],
          onExhausted: a.onExhausted ?? doc.approvalDefaults?.onExhausted ?? 'deny',
        })),
      });
    }
  }

  /** The role and owner of an actor type, or undefined when the policy gives it none. */
  assignment(type: string): { role: string; owner: string | null } | undefined {
    const a = this.doc.actors[type] ?? this.doc.actors['*'];
    return a === undefined ? undefined : { role: a.role, owner: a.owner ?? null };
  }

  role(name: string): RoleDoc | undefined {
    return this.roles.get(name)?.doc;
  }

  /**
   * The approval rule that holds an action with these arguments: the first of the candidates
   * (StaticDecision.approvals) whose conditions all hold. Undefined: the action needs no person.
   */
  approvalFor(type: string, candidates: readonly number[], args: unknown): ApprovalRoute | undefined {
    const roleName = this.assignment(type)?.role;
    const role = roleName === undefined ? undefined : this.roles.get(roleName);
    if (role === undefined) return undefined;
    for (const i of candidates) {
      const a = role.approvals[i];
      if (a !== undefined && conditionsHold(a.when, args)) return a;
    }
    return undefined;
  }

  /** The route of requests no rule names (ctx.requestApproval, budgets with onExhausted "approval"), if the policy has one. */
  get defaultRoute(): ApprovalRoute | undefined {
    const d = this.doc.approvalDefaults;
    return d === undefined ? undefined : { rule: 'approvalDefaults', when: [], chain: d.chain, onExhausted: d.onExhausted };
  }

  /** The people who may decide, by name. */
  get people(): Readonly<Record<string, { roles: string[]; publicKey: string }>> {
    return this.doc.people ?? {};
  }

  /** The static decision for one action of an actor of `type` (cached). */
  check(type: string, action: Action, target: string, self?: string): StaticDecision {
    if (action === 'stop' && target === self) return { allow: true, rule: 'builtin:stop-self' };
    const key = `${type}\u0000${action}\u0000${target}`;
    let d = this.cache.get(key);
    if (d === undefined) {
      d = this.decide(type, action, target);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, d);
    }
    return d;
  }

  /** True when the trace records the payloads of messages on `subject` (cached). */
  payloadsFor(subject: string): boolean {
    // The common case, no payloads recorded, costs one length check per message.
    if (this.payloadSubjects.compiled.length === 0) return false;
    let p = this.payloadCache.get(subject);
    if (p === undefined) {
      p = subjectProblem(subject) === undefined && firstContaining(this.payloadSubjects, tokens(subject)) >= 0;
      if (this.payloadCache.size >= CACHE_LIMIT) this.payloadCache.clear();
      this.payloadCache.set(subject, p);
    }
    return p;
  }

  private decide(type: string, action: Action, target: string): StaticDecision {
    const assigned = this.assignment(type);
    const role = assigned === undefined ? undefined : this.roles.get(assigned.role);
    if (action === 'spawn' || action === 'stop') return this.typeGrant(role, action === 'stop' ? target.slice(0, target.indexOf('/')) : target);
    const problem = subjectProblem(target, { wildcards: action === 'subscribe' });
    if (problem !== undefined) return deny('subject', `builtin:subject-syntax (${problem})`, 'ERR_INVALID_SUBJECT');
    if (role === undefined) return deny('no-role', `actors.${type}: no role`);
    const list = action === 'call' ? 'tools' : action;
    const grant = role.grants[list];
    const t = tokens(target);
    const path = `roles.${role.name}.${list}`;
    const denied = firstOverlapping(grant.deny, t);
    if (denied >= 0) return deny('denied', `${path}.deny[${denied}]=${grant.deny.source[denied]}`);
    const allowed = firstContaining(grant.allow, t);
    if (allowed < 0) return deny('not-granted', `${path}: not granted`);
    let rule = `${path}.allow[${allowed}]=${grant.allow.source[allowed]}`;
    if (action !== 'call') {
      for (const r of this.reserved) {
        if (!r.touches(t)) continue;
        // Out of reach unless a grant names the reserved area itself ("aos.>" does not reach "aos.ctl.>").
        const explicit = grant.allow.compiled.findIndex((p) => isSubset(t, p) && r.names(p));
        if (explicit < 0) return deny('reserved', `builtin:reserved ${r.name}`);
        rule = `${path}.allow[${explicit}]=${grant.allow.source[explicit]}`;
      }
    }
    const approvals = role.approvals.flatMap((a, i) => (a.action === action && (a.target === undefined || overlaps(t, a.target)) ? [i] : []));
    return approvals.length > 0 ? { allow: true, rule, approvals } : { allow: true, rule };
  }

  private typeGrant(role: CompiledRole | undefined, type: string): StaticDecision {
    if (role === undefined) return deny('no-role', `actors: no role`);
    const path = `roles.${role.name}.spawn`;
    const { allow, deny: denyList } = role.doc.spawn;
    const denied = denyList.findIndex((t) => t === '*' || t === type);
    if (denied >= 0) return deny('denied', `${path}.deny[${denied}]=${denyList[denied]}`);
    const allowed = allow.findIndex((t) => t === '*' || t === type);
    if (allowed < 0) return deny('not-granted', `${path}: not granted`);
    return { allow: true, rule: `${path}.allow[${allowed}]=${allow[allowed]}` };
  }
}

function deny(reason: DenyReason, rule: string, code: ErrorCode = 'ERR_DENIED'): StaticDecision {
  return { allow: false, rule, reason, code };
}

/** True when an action on `target` falls in a budget's or approval's scope. */
export function inScope(scope: ScopeDoc | undefined, action: Action, target: string): boolean {
  if (scope === undefined) return true;
  if (scope.action !== undefined && scope.action !== action) return false;
  return scope.target === undefined || overlaps(tokens(target), tokens(scope.target));
}

/**
 * The policy a node runs when none is given and the cluster store holds none: every actor
 * type may use the namespace's task, event and actor subjects, any tool, and spawn any type.
 * Reserved subjects stay out of reach. Meant for development; the node warns when it uses it.
 */
export function defaultPolicyDoc(namespace: string): PolicyDoc {
  const ns = namespace;
  const open = { allow: [`${ns}.task.>`, `${ns}.evt.>`], deny: [] };
  return {
    name: 'default (development: everything inside the namespace)',
    roles: {
      default: {
        description: 'Development default: all of the namespace, nothing reserved.',
        publish: open,
        subscribe: open,
        tell: { allow: [`${ns}.actor.>`], deny: [] },
        ask: { allow: [`${ns}.actor.>`], deny: [] },
        tools: { allow: ['>'], deny: [] },
        spawn: { allow: ['*'], deny: [] },
        budgets: [],
        approvals: [],
        audit: [],
      },
      tracer: {
        description: 'The tracer: reads the trace subjects (reserved, so granted by name) and keeps the log, in a stream through the trace tools (and anchors a file log through them); nothing else.',
        publish: { allow: [], deny: [] },
        subscribe: { allow: [`${ns}.trace.>`], deny: [] },
        tell: { allow: [], deny: [] },
        ask: { allow: [], deny: [] },
        tools: { allow: ['trace.append', 'trace.query', 'trace.anchor'], deny: [] },
        spawn: { allow: [], deny: [] },
        budgets: [],
        approvals: [],
        audit: [],
      },
    },
    actors: { tracer: { role: 'tracer' }, '*': { role: 'default' } },
  };
}
