// `aos suspend <type/key|role:NAME>` and `aos resume …`: the kill switch from the command
// line. The change is written to the namespace's KV bucket with compare-and-set (concurrent
// writers never lose each other's suspensions), then confirmed on every node through
// `<ns>.ctl.all.policy`; the actors it holds or releases are listed. A target that is neither
// an AgentId nor role:NAME is a usage error (exit 2).

import { hostname, userInfo } from 'node:os';
import type { NatsConnection } from 'nats';
import { defaultPolicyDoc, parseAgentId, type ActorInfo, type Suspension } from '../index.js';
import { parsePolicyText, Policy, type GovernanceStore, type Subjects } from '../internal.js';
import { SYNOPSIS, UsageError, type SuspendFlags } from './args.js';
import { confirmOnEveryNode, DEFAULT_CONFIRM_TIMEOUT_MS, DISCOVERY_MS, nodeList, policyStatuses } from './confirm.js';
import { connectNats, DEFAULT_NAMESPACE, DEFAULT_NATS_URL, gather, namespaceSubjects, openGovernanceStore } from './control-client.js';
import { progress, table } from './output.js';

const ROLE = 'role:';

export function runSuspend(flags: SuspendFlags): Promise<number> {
  return change('suspend', flags);
}

export function runResume(flags: SuspendFlags): Promise<number> {
  return change('resume', flags);
}

/** The target as given, checked: `type/key` (NATS-safe tokens) or `role:<name>`. */
export function checkTarget(target: string, verb: 'suspend' | 'resume'): string {
  if (target.startsWith(ROLE)) {
    if (target.length === ROLE.length) throw new UsageError(`${JSON.stringify(target)} names no role: use role:NAME`, false, SYNOPSIS[verb]);
    return target;
  }
  try {
    parseAgentId(target);
  } catch (err) {
    throw new UsageError(`${JSON.stringify(target)} is not a target (${(err as Error).message}): use type/key or role:NAME`, false, SYNOPSIS[verb]);
  }
  return target;
}

/** Who the suspension is by: `cli/<os user>@<hostname>`. */
function by(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env['USER'] ?? process.env['USERNAME'] ?? 'unknown'; // no passwd entry (some containers)
  }
  return `cli/${user}@${hostname()}`;
}

async function change(verb: 'suspend' | 'resume', flags: SuspendFlags): Promise<number> {
  const target = checkTarget(flags.target, verb);
  const url = flags.nats ?? DEFAULT_NATS_URL;
  const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
  const timeoutMs = flags.timeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS;
  const subjects = namespaceSubjects(namespace);
  const suspend = verb === 'suspend';

  const nc = await connectNats(url, `aos-${verb}`);
  try {
    const store = await openGovernanceStore(nc, namespace, url);
    const policy = await policyInStore(store, namespace);
    const role = target.startsWith(ROLE) ? target.slice(ROLE.length) : undefined;
    if (role !== undefined && policy.role(role) === undefined) {
      progress(`warning: the stored policy (version ${policy.version}) has no role ${JSON.stringify(role)}: the suspension holds no actor while it has none`);
    }
    if (!suspend && !(await store.suspensions()).list.some((s) => s.target === target)) {
      process.stdout.write(`${target} is not suspended: nothing to resume\n`);
      return 0;
    }
    progress(`asking every node on ${url} in namespace ${namespace}…`);
    const { nodes } = await policyStatuses(nc, subjects, DISCOVERY_MS);
    progress(nodes.length === 0 ? 'no node answers yet' : `${nodes.length} node(s): ${nodeList(nodes.map((n) => n.node))}`);

    const since = performance.now();
    const entry: Suspension = { target, by: by(), at: Date.now(), ...(flags.reason === undefined ? {} : { reason: flags.reason }) };
    const { revision } = await store.updateSuspensions((list) => {
      const others = list.filter((s) => s.target !== target);
      return suspend ? [...others, entry] : others;
    });
    progress(`stored in KV bucket ${store.bucket} (revision ${revision}); waiting up to ${timeoutMs} ms for every node to ${verb} ${target}…`);
    const c = await confirmOnEveryNode(nc, subjects, {
      known: nodes,
      since,
      timeoutMs,
      holds: (s) => s.suspensionsRevision >= revision && s.suspended.some((x) => x.target === target) === suspend,
      what: `the ${verb === 'suspend' ? 'suspension' : 'resumption'} of ${target}`,
    });
    if (!c.done) {
      const late = c.nodes.filter((n) => n.confirmedAfterMs === undefined);
      progress(`stored (revision ${revision}), but ${late.length} of ${c.nodes.length} node(s) do not report it after ${timeoutMs} ms:`);
      process.stderr.write(table(late.map((n) => [`  ${n.status.node}`, `suspensions revision ${n.status.suspensionsRevision}`, n.answering ? '' : '(stopped answering)'])));
      return 1;
    }
    const details = suspend ? ` (by ${entry.by}${entry.reason === undefined ? '' : `, reason ${JSON.stringify(entry.reason)}`})` : '';
    process.stdout.write(`${suspend ? 'suspended' : 'resumed'} ${target} on ${c.nodes.length} node(s) in ${Math.round(c.ms)} ms, revision ${revision}${details}\n`);
    const held = await actorsOf(nc, subjects, target, policy, c.nodes.length);
    const what = suspend ? 'holds' : 'releases';
    process.stdout.write(held.length === 0 ? `${what} no running actor\n` : `${what} ${held.length} actor(s): ${nodeList(held)}\n`);
    if (c.nodes.length === 0) progress(`no node answered on ${url} in namespace ${namespace}: nodes apply it from ${store.bucket} when they start`);
    return 0;
  } finally {
    await nc.close();
  }
}

/** The policy the nodes run, as far as the store says (the development default when it holds none). */
async function policyInStore(store: GovernanceStore, namespace: string): Promise<Policy> {
  const stored = await store.policy();
  if (stored !== undefined) {
    try {
      return new Policy(parsePolicyText(stored.text, 'stored policy'), namespace);
    } catch {
      // the nodes refused it too, and run the one before
    }
  }
  return new Policy(defaultPolicyDoc(namespace), namespace);
}

/** The running actors a target names, `type/key (node n1)`, from every node's actor list. */
async function actorsOf(nc: NatsConnection, subjects: Subjects, target: string, policy: Policy, nodeCount: number): Promise<string[]> {
  if (nodeCount === 0) return [];
  const { replies } = await gather<{ node?: string; actors?: ActorInfo[] }>(nc, subjects.control('all', 'list'), {
    windowMs: DISCOVERY_MS,
    enough: (r) => r.length >= nodeCount,
  });
  const role = target.startsWith(ROLE) ? target.slice(ROLE.length) : undefined;
  const out: string[] = [];
  for (const r of replies) {
    for (const a of r.actors ?? []) {
      const type = a.id.slice(0, a.id.indexOf('/'));
      if (role === undefined ? a.id === target : policy.assignment(type)?.role === role) out.push(`${a.id} (node ${r.node ?? '?'})`);
    }
  }
  return out.sort();
}
