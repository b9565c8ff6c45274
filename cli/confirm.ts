// Confirming a governance change on every node: the CLI writes the change to the namespace's
// KV bucket, then asks `<ns>.ctl.all.policy` again and again (scatter-gather rounds) until
// every node that answers reports it, or the timeout passes. Nodes are the ones found before
// the write plus any that answer later; a node counts as done only on its latest answer.

import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from 'nats';
import type { GovernanceStatus } from '../index.js';
import type { Subjects } from '../internal.js';
import { gather } from './control-client.js';
import { progress } from './output.js';

/** What a node answers on `<ns>.ctl.<node|all>.policy`, or the error it sent instead. */
export type PolicyReply = GovernanceStatus | { error: { code: string; message: string } };

/** How long apply, suspend and resume listen for the nodes before they write. */
export const DISCOVERY_MS = 500;
/** How long apply, suspend and resume wait for every node to report the change (--timeout). */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 5_000;
/** How long one round waits for a node that was seen before. */
const ROUND_MS = 250;
/** The pause between two rounds: a change reaches the nodes in milliseconds. */
const POLL_MS = 20;
/** How often a long wait says what it waits for. */
const PROGRESS_EVERY_MS = 1_000;

function isStatus(r: PolicyReply): r is GovernanceStatus {
  return typeof (r as GovernanceStatus).node === 'string' && typeof (r as GovernanceStatus).policy === 'object';
}

/** Every node's governance status, gathered within `windowMs` (sorted by node id). */
export async function policyStatuses(nc: NatsConnection, subjects: Subjects, windowMs: number): Promise<{ nodes: GovernanceStatus[]; nobodyListens: boolean }> {
  const { replies, nobodyListens } = await gather<PolicyReply>(nc, subjects.control('all', 'policy'), { windowMs });
  for (const r of replies) if (!isStatus(r)) progress(`a node answered with an error: ${r.error?.code ?? '?'}: ${r.error?.message ?? ''}`);
  return { nodes: replies.filter(isStatus).sort((a, b) => a.node.localeCompare(b.node)), nobodyListens };
}

export interface NodeConfirmation {
  /** The node's latest answer. */
  status: GovernanceStatus;
  /** When it was first seen to hold the change, in ms after the write began; undefined if it does not. */
  confirmedAfterMs: number | undefined;
  /** It answered in the last round (a node that stopped answering may be gone). */
  answering: boolean;
}

export interface Confirmation {
  /** Every node holds the change. */
  done: boolean;
  /** When the last node was seen to hold it, in ms after the write began. */
  ms: number;
  nodes: NodeConfirmation[];
}

export interface ConfirmOptions {
  /** The nodes found before the write. */
  known: readonly GovernanceStatus[];
  /** performance.now() when the write began. */
  since: number;
  timeoutMs: number;
  /** The node holds the change. */
  holds: (status: GovernanceStatus) => boolean;
  /** What the change is, for the progress lines ("version 3f2a…"). */
  what: string;
}

/** Asks every node until all of them hold the change, or the timeout passes. */
export async function confirmOnEveryNode(nc: NatsConnection, subjects: Subjects, opts: ConfirmOptions): Promise<Confirmation> {
  const nodes = new Map<string, NodeConfirmation>();
  for (const status of opts.known) nodes.set(status.node, { status, confirmedAfterMs: undefined, answering: true });
  const deadline = opts.since + opts.timeoutMs;
  let nextProgress = opts.since + PROGRESS_EVERY_MS;
  for (;;) {
    if (nodes.size === 0) return { done: true, ms: performance.now() - opts.since, nodes: [] };
    const expected = [...nodes.keys()];
    const round = await gather<PolicyReply>(nc, subjects.control('all', 'policy'), {
      windowMs: Math.max(1, Math.min(ROUND_MS, deadline - performance.now())),
      enough: (replies) => expected.every((id) => replies.some((r) => isStatus(r) && r.node === id)),
    });
    const at = performance.now() - opts.since;
    for (const n of nodes.values()) n.answering = false;
    for (const status of round.replies.filter(isStatus)) {
      const before = nodes.get(status.node);
      const holds = opts.holds(status);
      if (before === undefined) progress(`node ${status.node} answered too`);
      nodes.set(status.node, { status, answering: true, confirmedAfterMs: holds ? (before?.confirmedAfterMs ?? at) : undefined });
    }
    const all = [...nodes.values()];
    if (all.every((n) => n.confirmedAfterMs !== undefined)) {
      return { done: true, ms: Math.max(...all.map((n) => n.confirmedAfterMs!)), nodes: sorted(all) };
    }
    const now = performance.now();
    if (now >= deadline) return { done: false, ms: now - opts.since, nodes: sorted(all) };
    if (now >= nextProgress) {
      const waiting = all.filter((n) => n.confirmedAfterMs === undefined).map((n) => n.status.node);
      progress(`${all.length - waiting.length}/${all.length} node(s) hold ${opts.what} after ${Math.round(now - opts.since)} ms; waiting for ${waiting.join(', ')}…`);
      nextProgress = now + PROGRESS_EVERY_MS;
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - now)));
  }
}

function sorted(nodes: NodeConfirmation[]): NodeConfirmation[] {
  return nodes.sort((a, b) => a.status.node.localeCompare(b.status.node));
}

/** "n1, n2" or "3 nodes": short lists in full. */
export function nodeList(ids: readonly string[]): string {
  return ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 4).join(', ')} and ${ids.length - 4} more`;
}
