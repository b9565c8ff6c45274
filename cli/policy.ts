// `aos policy check|apply|show`. check validates a policy file offline; apply validates it,
// writes it to the namespace's JetStream KV bucket and waits until every node reports the new
// version (exit 1 naming the nodes that do not, within --timeout); show prints every node's
// policy version, origin, revision and suspensions. An invalid file is ERR_POLICY, exit 1,
// with every problem by path, and apply writes nothing.

import type { NatsConnection } from 'nats';
import { loadPolicyFile, type GovernanceStatus, type PolicyDoc, type Suspension } from '../index.js';
import { governanceBucket, overlaps, parsePolicyText, Policy, tokens } from '../internal.js';
import type { PolicyApplyFlags, PolicyCheckFlags, PolicyShowFlags } from './args.js';
import { confirmOnEveryNode, DEFAULT_CONFIRM_TIMEOUT_MS, DISCOVERY_MS, nodeList, policyStatuses } from './confirm.js';
import { connectNats, DEFAULT_NAMESPACE, DEFAULT_NATS_URL, namespaceSubjects, openGovernanceStore } from './control-client.js';
import { duration, progress, table } from './output.js';

export const DEFAULT_SHOW_TIMEOUT_MS = 500;

export async function runPolicyCheck(flags: PolicyCheckFlags): Promise<number> {
  const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
  namespaceSubjects(namespace);
  const doc = await loadPolicyFile(flags.file);
  for (const w of warnings(doc, namespace)) progress(`warning: ${w}`);
  process.stdout.write(`ok: ${summary(doc, namespace)}\n`);
  return 0;
}

export async function runPolicyApply(flags: PolicyApplyFlags): Promise<number> {
  const url = flags.nats ?? DEFAULT_NATS_URL;
  const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
  const timeoutMs = flags.timeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS;
  const subjects = namespaceSubjects(namespace);
  // Validated before anything is written (or even connected): a broken file changes nothing.
  const doc = await loadPolicyFile(flags.file);
  const version = new Policy(doc, namespace).version;
  progress(`${flags.file}: ${summary(doc, namespace)}`);
  for (const w of warnings(doc, namespace)) progress(`warning: ${w}`);

  const nc = await connectNats(url, 'aos-policy');
  try {
    const store = await openGovernanceStore(nc, namespace, url);
    progress(`asking every node on ${url} in namespace ${namespace}…`);
    const { nodes } = await policyStatuses(nc, subjects, DISCOVERY_MS);
    progress(nodes.length === 0 ? 'no node answers yet' : `${nodes.length} node(s): ${nodeList(nodes.map((n) => `${n.node} (version ${n.policy.version})`))}`);

    const since = performance.now();
    const revision = await store.putPolicy(doc);
    progress(`stored in KV bucket ${store.bucket} (revision ${revision}); waiting up to ${timeoutMs} ms for every node to apply it…`);
    const c = await confirmOnEveryNode(nc, subjects, {
      known: nodes,
      since,
      timeoutMs,
      holds: (s) => s.policy.version === version && s.policy.revision >= revision,
      what: `version ${version}`,
    });
    if (c.done) {
      process.stdout.write(`applied version ${version} (revision ${revision}) on ${c.nodes.length} node(s) in ${Math.round(c.ms)} ms\n`);
      if (c.nodes.length === 0) progress(`no node answered on ${url} in namespace ${namespace}: nodes load the policy from ${store.bucket} when they start`);
      return 0;
    }
    const late = c.nodes.filter((n) => n.confirmedAfterMs === undefined);
    progress(`stored version ${version} (revision ${revision}), but ${late.length} of ${c.nodes.length} node(s) still run another version after ${timeoutMs} ms:`);
    process.stderr.write(
      table(late.map((n) => [`  ${n.status.node}`, `version ${n.status.policy.version}`, `revision ${n.status.policy.revision}`, n.status.policy.origin, n.answering ? '' : '(stopped answering)'])),
    );
    return 1;
  } finally {
    await nc.close();
  }
}

export async function runPolicyShow(flags: PolicyShowFlags): Promise<number> {
  const url = flags.nats ?? DEFAULT_NATS_URL;
  const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
  const timeoutMs = flags.timeoutMs ?? DEFAULT_SHOW_TIMEOUT_MS;
  const subjects = namespaceSubjects(namespace);
  progress(`asking every node on ${url}…`);
  const nc = await connectNats(url, 'aos-policy');
  let answer: Awaited<ReturnType<typeof policyStatuses>>;
  let stored: string | undefined;
  try {
    answer = await policyStatuses(nc, subjects, timeoutMs);
    stored = await storedPolicy(nc, namespace, url);
  } finally {
    await nc.close();
  }
  const { nodes, nobodyListens } = answer;
  if (nodes.length === 0) {
    progress(nobodyListens ? `no node listens on ${url} in namespace ${namespace}` : `no node answered on ${url} in namespace ${namespace} within ${timeoutMs} ms`);
    if (stored !== undefined) progress(stored);
    return 1;
  }
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify(nodes, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(renderShow(nodes, stored, Date.now()));
  return 0;
}

/** `support desk (version 3f2a…), 3 roles, 3 actor types` */
function summary(doc: PolicyDoc, namespace: string): string {
  const roles = Object.keys(doc.roles).length;
  const types = Object.keys(doc.actors).length;
  return `${doc.name ?? '(unnamed)'} (version ${new Policy(doc, namespace).version}), ${roles} role${roles === 1 ? '' : 's'}, ${types} actor type${types === 1 ? '' : 's'}`;
}

/** Valid but probably not meant: grants outside the namespace, roles no actor type plays. */
function warnings(doc: PolicyDoc, namespace: string): string[] {
  const out: string[] = [];
  const inside = tokens(`${namespace}.>`);
  for (const [name, role] of Object.entries(doc.roles)) {
    for (const list of ['publish', 'subscribe', 'tell', 'ask'] as const) {
      role[list].allow.forEach((p, i) => {
        // `$…` and `_INBOX…` grants name NATS's own subjects on purpose.
        if (!p.startsWith('$') && !p.startsWith('_INBOX') && !overlaps(tokens(p), inside)) {
          out.push(`roles.${name}.${list}.allow.${i} ${JSON.stringify(p)} lies outside namespace ${namespace}: it grants nothing there`);
        }
      });
    }
    if (!Object.values(doc.actors).some((a) => a.role === name)) out.push(`roles.${name}: no actor type has this role`);
  }
  return out;
}

/** "store t1-governance: version 3f2a… (revision 4)", when the namespace's bucket exists. */
async function storedPolicy(nc: NatsConnection, namespace: string, url: string): Promise<string | undefined> {
  const bucket = governanceBucket(namespace);
  try {
    // Only look: `policy show` must not create the bucket of a namespace that has none.
    await (await nc.jetstreamManager({ timeout: 2_000 })).streams.info(`KV_${bucket}`);
  } catch {
    return undefined;
  }
  const p = await (await openGovernanceStore(nc, namespace, url)).policy();
  if (p === undefined) return `store ${bucket}: no policy stored`;
  try {
    return `store ${bucket}: version ${new Policy(parsePolicyText(p.text, 'stored policy'), namespace).version} (revision ${p.revision})`;
  } catch {
    return `store ${bucket}: revision ${p.revision} is not a valid policy (the nodes refused it)`;
  }
}

function renderShow(nodes: readonly GovernanceStatus[], stored: string | undefined, now: number): string {
  const rows = [['node', 'policy', 'version', 'revision', 'origin', 'suspended']];
  for (const n of nodes) {
    const targets = n.suspended.map((s) => s.target).join(', ');
    rows.push([n.node, n.policy.name ?? '(unnamed)', n.policy.version, String(n.policy.revision), n.policy.origin, targets === '' ? '-' : targets]);
  }
  let out = table(rows);
  if (stored !== undefined) out += `\n${stored}\n`;
  // Every suspension any node holds, once, and which nodes hold it when not all do.
  const seen = new Map<string, { s: Suspension; on: string[] }>();
  for (const n of nodes) for (const s of n.suspended) seen.set(s.target, { s, on: [...(seen.get(s.target)?.on ?? []), n.node] });
  if (seen.size === 0) return `${out}\nno suspensions\n`;
  const lines = [...seen.values()].map(({ s, on }) => [
    `  ${s.target}`,
    `by ${s.by}`,
    `${duration(Math.max(0, now - s.at))} ago`,
    s.reason === undefined ? '' : JSON.stringify(s.reason),
    on.length === nodes.length ? '' : `(only on ${on.join(', ')})`,
  ]);
  return `${out}\nsuspensions:\n${table(lines)}`;
}
