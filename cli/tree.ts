// `aos tree`: asks every node on a NATS for its supervision tree (`<ns>.ctl.all.tree`, one
// reply inbox, every reply that arrives within --timeout) and prints them as indented text,
// or as the raw JSON array with --json. No node answering is an error (exit 1), not an empty tree.

import type { ActorInfo, ActorNode, SupervisorNode } from '../index.js';
import type { TreeFlags } from './args.js';
import { connectNats, DEFAULT_NAMESPACE, DEFAULT_NATS_URL, gather, namespaceSubjects, type Gathered } from './control-client.js';
import { duration, progress } from './output.js';

export const DEFAULT_TREE_TIMEOUT_MS = 500;

/** One node's answer (runtime/system.ts `tree()`), or the error a node sent back instead. */
export type TreeReply = { node: string; supervisors: SupervisorNode[]; actors: ActorInfo[] } | { error: { code: string; message: string } };

export async function runTree(flags: TreeFlags): Promise<number> {
  const url = flags.nats ?? DEFAULT_NATS_URL;
  const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
  const timeoutMs = flags.timeoutMs ?? DEFAULT_TREE_TIMEOUT_MS;
  const subjects = namespaceSubjects(namespace);

  progress(`asking every node on ${url}…`);
  const nc = await connectNats(url, 'aos-tree');
  let answer: Gathered<TreeReply>;
  try {
    answer = await gather<TreeReply>(nc, subjects.control('all', 'tree'), { windowMs: timeoutMs });
  } finally {
    await nc.close();
  }
  const { replies, nobodyListens } = answer;
  if (replies.length === 0) {
    progress(nobodyListens ? `no node listens on ${url} in namespace ${namespace}` : `no node answered on ${url} in namespace ${namespace} within ${timeoutMs} ms`);
    return 1;
  }
  replies.sort((a, b) => nodeOf(a).localeCompare(nodeOf(b)));
  process.stdout.write(flags.json === true ? `${JSON.stringify(replies, null, 2)}\n` : renderTrees(replies, Date.now()));
  return 0;
}

function nodeOf(r: TreeReply): string {
  return 'node' in r && typeof r.node === 'string' ? r.node : '';
}

// ---- text --------------------------------------------------------------------------

const INDENT = '  ';
const MAX_MESSAGE = 80;

/** Every node's tree as indented text, nodes separated by a blank line. */
export function renderTrees(replies: readonly TreeReply[], now: number): string {
  return replies.map((r) => renderNode(r, now).join('\n')).join('\n\n') + '\n';
}

function renderNode(reply: TreeReply, now: number): string[] {
  if ('error' in reply) return [`node ?  error ${reply.error?.code ?? '?'}: ${reply.error?.message ?? ''}`];
  const supervisors = reply.supervisors ?? [];
  const actors = reply.actors ?? [];
  const lines = [`node ${reply.node}`];
  for (const s of supervisors) lines.push(...renderSupervisor(s, 1, true, now));
  if (actors.length > 0) {
    lines.push(`${INDENT}unsupervised`);
    for (const a of actors) lines.push(`${INDENT.repeat(2)}${columns([a.id, a.status, `mailbox ${a.mailbox}`, `turns ${a.turns}`, `failures ${a.failures}`])}`);
  }
  if (supervisors.length === 0 && actors.length === 0) lines.push(`${INDENT}(no actors)`);
  return lines;
}

function renderSupervisor(s: SupervisorNode, depth: number, root: boolean, now: number): string[] {
  const within = duration(s.intensity?.withinMs ?? 0);
  // Restarts of its children inside its intensity window, against the limit; a nested
  // supervisor also shows how often its parent restarted it.
  const window = `restarts ${s.restarts}/${s.intensity?.maxRestarts} in ${within}`;
  const restarts = root || s.timesRestarted === undefined ? window : `${window}  restarted ${s.timesRestarted}`;
  const lines = [`${INDENT.repeat(depth)}${columns([`supervisor ${s.name}`, s.strategy, s.status, restarts, last(s, now)])}`];
  for (const c of s.children ?? []) {
    if (c.kind === 'supervisor') lines.push(...renderSupervisor(c, depth + 1, false, now));
    else lines.push(`${INDENT.repeat(depth + 1)}${renderActor(c, now)}`);
  }
  if ((s.children ?? []).length === 0) lines.push(`${INDENT.repeat(depth + 1)}(no children)`);
  return lines;
}

function renderActor(a: ActorNode, now: number): string {
  return columns([a.id, a.status, a.restart, `restarts ${a.restarts}`, last(a, now)]);
}

function last(n: ActorNode | SupervisorNode, now: number): string {
  const f = n.lastFailure;
  if (f === undefined) return '';
  const message = f.message.length > MAX_MESSAGE ? `${f.message.slice(0, MAX_MESSAGE - 1)}…` : f.message;
  return `last: ${f.code} ${JSON.stringify(message)} ${duration(Math.max(0, now - f.at))} ago`;
}

function columns(cells: string[]): string {
  return cells.filter((c) => c !== '').join('  ');
}
