// defineSupervisor: validates a supervisor spec with zod (ERR_CONFIG naming the bad field),
// fills in OTP's defaults, and makes it startable under a node (`system.supervise(spec)`).

import { z } from 'zod';
import { aosError } from '../runtime/errors/aos-error.js';
import type { SupervisionHost } from '../runtime/supervision-port.js';
import { NO_BACKOFF } from './backoff.js';
import { DEFAULT_INTENSITY } from './intensity.js';
import { DEFAULT_DIRECTIVES } from './restart-decision.js';
import { DEFAULT_SHUTDOWN_MS, isSupervisorSpec, type ActorChildSpec, type ResolvedActorChild, type SupervisorSpec, type SupervisorSpecInput } from './spec.js';
import { Supervisor } from './supervisor.js';

const restartType = z.enum(['permanent', 'transient', 'temporary']);
const directive = z.enum(['restart', 'resume', 'stop', 'escalate']);
const actorChild = z.object({
  module: z.union([z.string().min(1), z.instanceof(URL)]),
  type: z.string().min(1),
  key: z.string().min(1),
  tasks: z.array(z.string()).optional(),
  subscribe: z.array(z.string()).optional(),
  config: z.unknown().optional(),
  mailbox: z.object({ capacity: z.number().int().min(1).optional(), overflow: z.enum(['reject', 'drop-oldest']).optional() }).optional(),
  turnTimeoutMs: z.number().int().min(0).optional(),
  maxAttempts: z.number().int().min(1).optional(),
  restart: restartType.optional(),
  shutdownMs: z.number().int().min(0).optional(),
  directives: z.object({ threw: directive, timeout: directive, 'worker-died': directive, 'output-schema': directive }).partial().optional(),
});
const specSchema = z.object({
  name: z.string().min(1).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').optional(),
  strategy: z.enum(['one_for_one', 'one_for_all', 'rest_for_one']).optional(),
  intensity: z.object({ maxRestarts: z.number().int().min(0), withinMs: z.number().int().positive() }).partial().optional(),
  backoff: z
    .object({ initialMs: z.number().min(0), maxMs: z.number().min(0), factor: z.number().min(1), jitter: z.number().min(0).max(1), resetAfterMs: z.number().positive() })
    .partial()
    .optional(),
  children: z.array(z.unknown()).optional(),
  pool: z.object({ template: actorChild.omit({ key: true }), size: z.number().int().min(0).optional() }).optional(),
  restart: restartType.optional(),
});

function resolveChild(c: ActorChildSpec): ResolvedActorChild {
  return {
    ...c,
    restart: c.restart ?? 'permanent',
    shutdownMs: c.shutdownMs ?? DEFAULT_SHUTDOWN_MS,
    directives: { ...DEFAULT_DIRECTIVES, ...c.directives },
  };
}

function invalid(name: string, issues: z.core.$ZodIssue[]): never {
  const i = issues[0]!;
  throw aosError('ERR_CONFIG', `supervisor ${name}: ${i.path.join('.') || '(spec)'}: ${i.message}`, {
    supervisor: name,
    issues: issues.map((x) => ({ path: x.path.map(String), message: x.message })),
  });
}

/** Validates a supervisor spec (ERR_CONFIG with the path of the bad field) and fills in OTP's defaults. */
let unnamed = 0;

export function defineSupervisor(input: SupervisorSpecInput): SupervisorSpec {
  const spec = { ...input, name: input.name ?? `supervisor-${++unnamed}` };
  const parsed = specSchema.safeParse(spec);
  if (!parsed.success) invalid(String((spec as { name?: unknown })?.name ?? '?'), parsed.error.issues);
  const children = (spec.children ?? []).map((c, i) => {
    if (isSupervisorSpec(c)) return c;
    const r = actorChild.safeParse(c);
    if (!r.success) invalid(spec.name, r.error.issues.map((x) => ({ ...x, path: ['children', i, ...x.path] })));
    return resolveChild(c as ActorChildSpec);
  });
  if (spec.pool !== undefined && children.length > 0) {
    throw aosError('ERR_CONFIG', `supervisor ${spec.name}: a pool has a template, not children`, { supervisor: spec.name });
  }
  const names = new Set<string>();
  for (const c of children) {
    const id = isSupervisorSpec(c) ? `supervisor:${c.name}` : `${c.type}/${c.key}`;
    if (names.has(id)) throw aosError('ERR_CONFIG', `supervisor ${spec.name}: child ${id} appears twice`, { supervisor: spec.name, child: id });
    names.add(id);
  }
  const resolved: SupervisorSpec = Object.freeze({
    kind: 'supervisor' as const,
    name: spec.name,
    strategy: spec.strategy ?? 'one_for_one',
    intensity: { ...DEFAULT_INTENSITY, ...spec.intensity },
    backoff: { ...NO_BACKOFF, ...spec.backoff },
    children,
    pool: spec.pool === undefined ? undefined : { template: { ...resolveChild({ ...spec.pool.template, key: '' }), key: '' }, size: spec.pool.size ?? 0 },
    restart: spec.restart ?? 'permanent',
    async start(host: SupervisionHost) {
      const sup = new Supervisor(resolved, host, undefined);
      await sup.start();
      return sup;
    },
  });
  return resolved;
}
