// The one mapping between concepts and NATS subjects (see ARCHITECTURE.md, "Subjects").
// The prefix (`aos` by default) is the namespace, so several tenants can share one NATS.

import { assertToken, type AgentAddress } from './address.js';
import { aosError } from './errors/aos-error.js';

export const MAX_SUBJECT_LENGTH = 256;
const BAD_CHAR = /[\s\u0000-\u001f\u007f-\u009f]/u;

export interface SubjectRules {
  /** Allow `*` and `>` (subscription patterns); publish subjects never may. */
  wildcards: boolean;
}

/** Why `subject` is malformed, or undefined. Subjects are case-sensitive and never normalised. */
export function subjectProblem(subject: string, rules: SubjectRules = { wildcards: false }): string | undefined {
  if (subject.length === 0) return 'is empty';
  if (subject.length > MAX_SUBJECT_LENGTH) return `is longer than ${MAX_SUBJECT_LENGTH} characters`;
  if (BAD_CHAR.test(subject)) return 'contains whitespace or a control character';
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.length === 0) return 'has an empty token';
    const wild = t.includes('*') || t.includes('>');
    if (!wild) continue;
    if (!rules.wildcards) return 'contains a wildcard (* or >)';
    if (t !== '*' && t !== '>') return `token ${JSON.stringify(t)} mixes a wildcard with other characters`;
    if (t === '>' && i !== tokens.length - 1) return "'>' is allowed only as the last token";
  }
  return undefined;
}

export function assertSubject(subject: unknown, rules: SubjectRules = { wildcards: false }): string {
  if (typeof subject !== 'string') {
    throw aosError('ERR_INVALID_SUBJECT', `a subject must be a string, got ${typeof subject}`);
  }
  const problem = subjectProblem(subject, rules);
  if (problem !== undefined) {
    throw aosError('ERR_INVALID_SUBJECT', `subject ${JSON.stringify(subject)} ${problem}`, { subject });
  }
  return subject;
}

/** Subject names for one namespace. */
export class Subjects {
  readonly prefix: string;
  /** `<prefix>.trace.`, made once: isTrace runs for every traced event. */
  private readonly tracePrefix: string;

  constructor(namespace = 'aos') {
    assertToken(namespace, 'namespace');
    this.prefix = namespace;
    this.tracePrefix = `${namespace}.trace.`;
  }

  actor(addr: AgentAddress): string {
    return `${this.prefix}.actor.${addr.type}.${addr.key}`;
  }

  /** `task('echo')` and `task('aos.task.echo')` both give `aos.task.echo`. */
  task(topic: string): string {
    return this.under('task', topic);
  }

  event(topic: string): string {
    return this.under('evt', topic);
  }

  trace(nodeId: string): string {
    return `${this.prefix}.trace.${nodeId}`;
  }

  control(nodeId: string, verb: string): string {
    return `${this.prefix}.ctl.${nodeId}.${verb}`;
  }

  controlAll(verb: string): string {
    return `${this.prefix}.ctl.*.${verb}`;
  }

  approval(id: string): string {
    return `${this.prefix}.approval.${id}`;
  }

  dead(type: string): string {
    return `${this.prefix}.dead.${type}`;
  }

  /** True for subjects under `<prefix>.trace.` (trace traffic is never traced itself). */
  isTrace(subject: string): boolean {
    return subject.startsWith(this.tracePrefix);
  }

  /** True for subjects under `<prefix>.task.`. */
  isTask(subject: string): boolean {
    return subject.startsWith(`${this.prefix}.task.`);
  }

  /** The queue group shared by every instance of one actor type on a task subject. */
  queueGroup(type: string): string {
    return `${this.prefix}.q.${type}`;
  }

  private under(kind: string, topic: string): string {
    const full = topic.startsWith(`${this.prefix}.${kind}.`) ? topic : `${this.prefix}.${kind}.${topic}`;
    return assertSubject(full, { wildcards: true });
  }
}
