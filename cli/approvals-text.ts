// The approval queue as text for people: the table of `aos approvals list`, the full account of
// one item for `aos approvals show`, what a person is about to decide, the outcome line, and the
// `people` entry `aos approvals keygen` prints. Pure: items and a clock reading in, text out.

import type { ApprovalItem, BoundAction, HeldTask } from '../runtime/approvals/approval-types.js';
import { duration, table } from './output.js';

/** Statuses in which an item waits for a person. */
const WAITING = new Set<ApprovalItem['status']>(['pending', 'open']);

/** `abc…` : text cut to `max` characters with an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Compact JSON of a value (`undefined` as `-`), cut to `max`. */
export function shortJson(value: unknown, max = 48): string {
  if (value === undefined) return '-';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return clip(text, max);
}

/** `call payments.refund {"amount":900}`: the bound action in one line. */
export function actionLine(action: BoundAction, maxArgs = 48): string {
  const args = action.args === undefined || action.args === null ? '' : ` ${shortJson(action.args, maxArgs)}`;
  return `${action.kind} ${action.target}${args}`;
}

/** What an item is about: the bound action, or for an escalation its reason and what it holds. */
export function subjectLine(item: ApprovalItem, maxArgs = 48): string {
  if (item.action !== undefined) return actionLine(item.action, maxArgs);
  const e = item.escalation;
  if (e === undefined) return '-';
  const where = e.subject ?? e.offender ?? e.type ?? e.supervisor;
  const held = e.tasks.length === 0 ? '' : `, ${e.tasks.length} task${e.tasks.length === 1 ? '' : 's'} held`;
  return `${e.reason.code}${where === undefined ? '' : ` ${where}`}${held}`;
}

/** Who raised it: the requesting actor, or for an escalation the supervisor (or `supervision`). */
export function raisedBy(item: ApprovalItem): string {
  if (item.requester !== undefined) return item.requester;
  if (item.kind === 'escalation') return item.escalation?.supervisor ?? 'supervision';
  return '-';
}

/** The approvers of the current chain step while the item waits for a person; `-` otherwise. */
export function waitingFor(item: ApprovalItem): string {
  if (!WAITING.has(item.status)) return '-';
  const step = item.chain[item.step];
  return step === undefined || step.approvers.length === 0 ? 'any person' : step.approvers.join(', ');
}

/** `4m`, `overdue 12s`, or `-` when the item waits for no deadline. */
export function dueIn(item: ApprovalItem, now: number): string {
  if (!WAITING.has(item.status) || item.chain.length === 0 || !Number.isFinite(item.deadline) || item.deadline <= 0) return '-';
  const left = item.deadline - now;
  return left >= 0 ? duration(left) : `overdue ${duration(-left)}`;
}

/** The table of `aos approvals list`, or a line saying there is nothing. */
export function renderList(items: readonly ApprovalItem[], now: number, all: boolean): string {
  if (items.length === 0) return all ? 'no approvals or escalations\n' : 'nothing waits for a decision\n';
  const rows = [['id', 'kind', 'status', 'requester', 'action', 'waiting for', 'due in']];
  const sorted = [...items].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  for (const item of sorted) {
    rows.push([item.id, item.kind, item.status, raisedBy(item), subjectLine(item, 40), waitingFor(item), dueIn(item, now)]);
  }
  return table(rows);
}

function iso(at: number): string {
  return Number.isFinite(at) ? new Date(at).toISOString() : String(at);
}

function ago(at: number, now: number): string {
  const d = now - at;
  return d >= 0 ? `${duration(d)} ago` : `in ${duration(-d)}`;
}

/** Multi-line JSON, every line indented. */
function block(value: unknown, indent: string): string {
  const text = value === undefined ? 'undefined' : (JSON.stringify(value, null, 2) ?? String(value));
  return text
    .split('\n')
    .map((l) => `${indent}${l}`)
    .join('\n');
}

function heldTask(t: HeldTask, i: number): string[] {
  const lines = [`  ${i + 1}. ${t.subject}  chain ${t.correlationId}${t.replyTo === undefined ? '' : '  (a request: reply can answer it)'}  held ${iso(t.at)}`];
  lines.push(`     ${t.encoding === 'base64' ? 'base64 ' : ''}${clip(t.payload, 200)}`);
  return lines;
}

/** Everything about one item: `aos approvals show`. */
export function renderItem(item: ApprovalItem, now: number): string {
  const out: string[] = [];
  out.push(`${item.kind} ${item.id}: ${item.status}`);
  const facts: string[][] = [];
  if (item.requester !== undefined) {
    const who = [item.role ? `role ${item.role}` : undefined, item.owner ? `owner ${item.owner}` : undefined].filter((x) => x !== undefined);
    facts.push(['requester', `${item.requester}${who.length === 0 ? '' : ` (${who.join(', ')})`}`]);
  }
  facts.push(['created', `${iso(item.createdAt)} (${ago(item.createdAt, now)}) on node ${item.node}`]);
  if (item.reason !== undefined) facts.push(['reason', item.reason]);
  if (item.rule !== undefined) facts.push(['rule', item.rule]);
  facts.push(['chain of work', `${item.correlationId}${item.causationId ? ` (caused by message ${item.causationId})` : ''}`]);
  out.push(table(facts.map(([k, v]) => [`  ${k}`, v!])).trimEnd());

  if (item.action !== undefined) {
    out.push('', `action: ${item.action.kind} ${item.action.target}`);
    out.push(block(item.action.args ?? null, '  '));
    if (item.actionHash !== undefined) out.push(`  hash ${item.actionHash}`);
  }

  const e = item.escalation;
  if (e !== undefined) {
    out.push('', `escalation: ${e.reason.code}: ${e.reason.message}`);
    const rows: string[][] = [];
    if (e.supervisor !== undefined) rows.push(['  supervisor', e.supervisor]);
    if (e.offender !== undefined) rows.push(['  offender', e.offender]);
    if (e.type !== undefined) rows.push(['  actor type', e.type]);
    if (e.subject !== undefined) rows.push(['  subject', e.subject]);
    if (rows.length > 0) out.push(table(rows).trimEnd());
    out.push(e.tasks.length === 0 ? '  no task held' : `  ${e.tasks.length} task${e.tasks.length === 1 ? '' : 's'} held:`);
    e.tasks.forEach((t, i) => out.push(...heldTask(t, i).map((l) => `  ${l}`)));
  }

  if (item.chain.length > 0) {
    out.push('', `approval chain (when it runs out: ${item.onExhausted}):`);
    const rows = item.chain.map((s, i) => {
      const current = i === item.step && WAITING.has(item.status);
      const due = current ? `due ${iso(item.deadline)} (${dueIn(item, now)})` : '';
      return [`  ${current ? '>' : ' '} ${i + 1}.`, s.approvers.join(', '), `${duration(s.timeoutMs)} to decide`, due];
    });
    out.push(table(rows).trimEnd());
  }

  if (item.decision !== undefined) {
    const d = item.decision;
    out.push('', `decision: ${d.decision} by ${d.by} at ${iso(d.at)}${d.reason === undefined ? '' : `: ${JSON.stringify(d.reason)}`}`);
  }
  if (item.result !== undefined) {
    out.push(item.result.ok ? `result: ok\n${block(item.result.value ?? null, '  ')}` : `result: failed: ${item.result.error.code}: ${item.result.error.message}`);
  }
  if (item.resolution !== undefined) {
    const r = item.resolution;
    const to = r.to === undefined ? '' : ` to ${r.to}`;
    const value = r.value === undefined ? '' : ` with ${shortJson(r.value, 120)}`;
    out.push('', `resolution: ${r.action}${to}${value} by ${r.by} at ${iso(r.at)}${r.reason === undefined ? '' : `: ${JSON.stringify(r.reason)}`}`);
  }

  if (item.history.length > 0) {
    out.push('', 'history:');
    const rows = item.history.map((h) => [`  ${iso(h.at)}`, `+${duration(Math.max(0, h.at - item.createdAt))}`, h.event, h.by === undefined ? '' : `by ${h.by}`, h.detail ?? '']);
    out.push(table(rows).trimEnd());
  }
  return `${out.join('\n')}\n`;
}

/** What a person is about to decide, shown before the decision is sent (several lines). */
export function renderPreview(item: ApprovalItem, verb: string): string {
  const lines = [`${verb} ${item.kind} ${item.id} (${item.status}), raised by ${raisedBy(item)}${item.reason === undefined ? '' : `: ${JSON.stringify(item.reason)}`}`];
  if (item.action !== undefined) {
    lines.push(`  action: ${item.action.kind} ${item.action.target}`);
    lines.push(block(item.action.args ?? null, '    '));
    if (item.actionHash !== undefined) lines.push(`  hash ${item.actionHash}`);
  } else {
    lines.push(`  ${subjectLine(item, 120)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The item is settled: nothing more will happen to it without a person. */
export function isSettled(item: ApprovalItem): boolean {
  return item.status !== 'approved' && item.status !== 'executing';
}

/** One line: what the decision (or the action on an escalation) led to. */
export function outcomeLine(item: ApprovalItem): string {
  const by = item.decision?.by ?? item.resolution?.by;
  const who = by === undefined ? '' : ` by ${by}`;
  const what = item.action === undefined ? subjectLine(item, 60) : actionLine(item.action, 60);
  switch (item.status) {
    case 'executed':
      return `approved ${item.id}${who}: executed ${what}, result ${item.result?.ok === true ? shortJson(item.result.value, 200) : '-'}`;
    case 'failed':
      return `approved ${item.id}${who}, but ${what} failed: ${item.result?.ok === false ? `${item.result.error.code}: ${item.result.error.message}` : 'no result'}`;
    case 'approved':
    case 'executing':
      return `approved ${item.id}${who}: ${what} has not finished yet (${item.status}); the requester's node performs it once`;
    case 'denied':
      return `denied ${item.id}${who}: ${what} will not run`;
    case 'expired':
      return `${item.id} expired before a decision: ${what} will not run`;
    case 'resolved': {
      const r = item.resolution;
      const detail = r === undefined ? '' : ` ${r.action}${r.to === undefined ? '' : ` to ${r.to}`}${r.value === undefined ? '' : ` with ${shortJson(r.value, 80)}`}`;
      return `resolved ${item.id}${who}:${detail} (${what})`;
    }
    case 'pending':
    case 'open':
      return `${item.id} still waits for a decision (${item.status})`;
  }
}

/** The `people` entry for a new key, to paste into the policy. */
export function peopleEntry(name: string, roles: readonly string[], publicKey: string): string {
  return `${JSON.stringify({ [name]: { roles, publicKey } }, null, 2)}\n`;
}
