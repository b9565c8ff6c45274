// The `ctx` a handler sees for one turn. It records intents instead of performing them
// (they are committed by the kernel when the turn returns) except `ask`, which goes to
// the kernel at once through the KernelChannel. Arguments are checked here so the handler
// gets a typed error at the call site; the kernel checks them again (it trusts no worker).

import type { Logger } from 'pino';
import { parseAgentId, type AgentAddress } from '../address.js';
import type { ActorContext, ActorDefinition, ApprovalRequest, AskOptions, CallOptions, SpawnOptions } from '../define-actor.js';
import type { ApprovalRoute } from '../broker/policy.js';
import { newMessageId } from '../ids.js';
import { compact, decodeValue, encodeValue, type PayloadFormat } from '../envelope.js';
import { aosError, type AosError } from '../errors/aos-error.js';
import { assertSubject } from '../subjects.js';
import type { Intent, TurnMessage } from '../wire.js';
import type { KernelChannel } from './kernel-channel.js';
import type { TurnGuard } from './turn-guard.js';

export const DEFAULT_ASK_TIMEOUT_MS = 30_000;
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

export interface TurnScope {
  self: string;
  module: string;
  def: ActorDefinition;
  message: TurnMessage | null;
  correlationId: string;
  channel: KernelChannel;
  log: Logger;
  maxMessageBytes: number;
  guard: TurnGuard;
  /** The spawn config (init only). */
  config: Uint8Array | undefined;
  /** The actor's own subject (`<ns>.actor.<type>.<key>` is built from it for tell and ask checks). */
  actorSubject: (id: string) => string;
}

export class TurnContext implements ActorContext {
  readonly intents: Intent[] = [];
  replyValue: { format: PayloadFormat; payload: Uint8Array } | undefined;
  // Made on first use: most turns never look at their signal or logger.
  private controller: AbortController | undefined;
  private abortReason: AosError | undefined;
  private logger: Logger | undefined;
  private readonly scope: TurnScope;

  private closed = false;
  private rejectAborted!: (reason: AosError) => void;
  /** Rejects when the kernel aborts the turn; the turn races its handler against it. */
  readonly aborted: Promise<never>;

  constructor(scope: TurnScope) {
    this.scope = scope;
    this.aborted = new Promise<never>((_, reject) => (this.rejectAborted = reject));
    this.aborted.catch(() => undefined); // observed by the race; never an unhandled rejection
    scope.channel.enter(scope.self, this);
  }

  get log(): Logger {
    this.logger ??= this.scope.log.child({ actor: this.self, correlationId: this.correlationId, messageId: this.messageId });
    return this.logger;
  }

  get self(): string {
    return this.scope.self;
  }
  get from(): string {
    return this.scope.message?.from ?? this.scope.self;
  }
  get messageId(): string | null {
    return this.scope.message?.id ?? null;
  }
  get correlationId(): string {
    return this.scope.correlationId;
  }
  get causationId(): string | null {
    return this.scope.message?.causationId ?? null;
  }
  get config(): unknown {
    return this.scope.config === undefined ? undefined : decodeValue(this.scope.config, 'msgpack');
  }
  get subject(): string | null {
    return this.scope.message?.subject ?? null;
  }
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: AosError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.rejectAborted(reason);
  }

  /** Ends the turn's life: later calls from a handler still running in the background throw. */
  close(): void {
    this.closed = true;
    this.scope.channel.leave(this.scope.self);
  }

  private assertOpen(): void {
    if (this.abortReason !== undefined) throw this.abortReason;
    if (this.closed) throw aosError('ERR_ACTOR_STOPPED', `the turn of ${this.self} has ended; its effects are discarded`, { actorId: this.self });
  }

  reply(value: unknown): void {
    this.assertOpen();
    const msg = this.scope.message;
    if (msg === null || !msg.expectsReply) {
      this.log.debug({ messageId: msg?.id ?? null }, 'reply ignored: the sender did not ask');
      return;
    }
    if (this.replyValue !== undefined) {
      throw aosError('ERR_ALREADY_REPLIED', `${this.self} already replied to message ${msg.id}`, { actorId: this.self, messageId: msg.id });
    }
    const output = this.scope.def.output;
    if (output !== undefined) {
      const r = output.safeParse(value);
      if (!r.success) {
        throw aosError('ERR_OUTPUT_SCHEMA', `${this.self} replied with a value that breaks its output schema`, {
          actorId: this.self,
          issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
        });
      }
    }
    // A JSON client gets JSON back; actors get msgpack.
    this.replyValue = { format: msg.format, payload: this.encode(value, msg.format) };
  }

  tell(to: string, value: unknown): void {
    this.assertOpen();
    parseAgentId(to);
    const route = this.scope.guard.check('tell', this.scope.actorSubject(to), value);
    const payload = this.encode(value, 'msgpack');
    if (route !== undefined) this.hold('tell', to, payload, route);
    this.intents.push({ t: 'tell', to, payload });
  }

  publish(subject: string, value: unknown): void {
    this.assertOpen();
    if (typeof subject !== 'string') assertSubject(subject);
    const route = this.scope.guard.check('publish', subject, value);
    assertSubject(subject);
    const payload = this.encode(value, 'msgpack');
    if (route !== undefined) this.hold('publish', subject, payload, route);
    this.intents.push({ t: 'publish', subject, payload });
  }

  /** An approval rule holds this message: it becomes a request when the turn commits, and the handler learns so here. */
  private hold(action: 'publish' | 'tell', target: string, payload: Uint8Array, route: ApprovalRoute): never {
    const id = newMessageId();
    this.intents.push({ t: 'held', id, action, target, payload });
    throw aosError('ERR_APPROVAL_PENDING', `${action} ${target} by ${this.self} waits for a person (${route.rule}): approval ${id}`, {
      actorId: this.self,
      action,
      target,
      reason: 'approval',
      approvalId: id,
      rule: route.rule,
    });
  }

  async requestApproval(request: ApprovalRequest): Promise<{ approvalId: string }> {
    this.assertOpen();
    if (request === null || typeof request !== 'object' || typeof request.reason !== 'string' || request.reason.length === 0) {
      throw aosError('ERR_CONFIG', 'requestApproval needs { action, reason } with a non-empty reason');
    }
    const a = request.action as Record<string, unknown>;
    const kind = (['call', 'publish', 'tell', 'custom'] as const).find((k) => typeof a?.[k] === 'string');
    if (kind === undefined) throw aosError('ERR_CONFIG', 'requestApproval: action is { call: tool, args } | { publish: subject, value } | { tell: agentId, value } | { custom: name, args }');
    const target = a[kind] as string;
    if (kind === 'tell') parseAgentId(target);
    if (kind === 'publish') assertSubject(target);
    if (kind !== 'custom') this.scope.guard.check(kind, kind === 'tell' ? this.scope.actorSubject(target) : target, kind === 'call' ? a.args : a.value);
    const reply = await this.scope.channel.approval({
      self: this.self,
      kind,
      target,
      args: this.encode(kind === 'call' || kind === 'custom' ? a.args : a.value, 'msgpack'),
      reason: request.reason,
      correlationId: this.correlationId,
      causationId: this.messageId,
    });
    return decodeValue(reply.payload, reply.format) as { approvalId: string };
  }

  async ask<R = unknown>(to: string, value: unknown, options: AskOptions = {}): Promise<R> {
    parseAgentId(to);
    if (to === this.self) {
      throw aosError('ERR_DEADLOCK', `${this.self} asked itself; use ctx.tell, or keep the work in this turn`, { actorId: this.self });
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw aosError('ERR_CONFIG', `ask timeoutMs must be positive, got ${timeoutMs}`, { timeoutMs });
    this.assertOpen();
    this.scope.guard.check('ask', this.scope.actorSubject(to));
    const reply = await this.scope.channel.ask({
      self: this.self,
      to,
      payload: this.encode(value, 'msgpack'),
      timeoutMs,
      correlationId: this.correlationId,
      causationId: this.messageId,
    });
    return decodeValue(reply.payload, reply.format) as R;
  }

  async call<R = unknown>(tool: string, args: unknown, options: CallOptions = {}): Promise<R> {
    if (typeof tool !== 'string') assertSubject(tool);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw aosError('ERR_CONFIG', `call timeoutMs must be positive, got ${timeoutMs}`, { timeoutMs });
    this.assertOpen();
    // A call an approval rule holds goes on to the kernel, which stores the request and answers ERR_APPROVAL_PENDING.
    this.scope.guard.check('call', tool, args);
    const reply = await this.scope.channel.call({
      self: this.self,
      tool,
      args: this.encode(args, 'msgpack'),
      timeoutMs,
      correlationId: this.correlationId,
      causationId: this.messageId,
    });
    return decodeValue(reply.payload, reply.format) as R;
  }

  report(unit: string, amount: number): void {
    this.assertOpen();
    if (typeof unit !== 'string' || unit.length === 0) throw aosError('ERR_CONFIG', 'report: unit must be a non-empty string');
    if (!Number.isFinite(amount) || amount < 0) throw aosError('ERR_CONFIG', `report: amount must be a finite number >= 0, got ${amount}`, { unit });
    this.scope.guard.report(unit, amount);
    this.scope.channel.report(this.self, unit, amount);
  }

  spawn(module: string, options: SpawnOptions): string {
    this.assertOpen();
    const addr: AgentAddress = parseAgentId(`${options.type}/${options.key}`);
    this.scope.guard.check('spawn', addr.type);
    const tasks = (options.tasks ?? []).map((s) => assertSubject(s, { wildcards: true }));
    const url = new URL(module, this.scope.module).href;
    this.intents.push({ t: 'spawn', module: url, type: addr.type, key: addr.key, tasks });
    return `${addr.type}/${addr.key}`;
  }

  stop(id: string = this.self): void {
    this.assertOpen();
    parseAgentId(id);
    this.scope.guard.check('stop', id);
    this.intents.push({ t: 'stop', id });
  }

  private encode(value: unknown, format: PayloadFormat): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = encodeValue(value, format);
    } catch (err) {
      throw aosError('ERR_ENCODE', `value cannot be encoded as ${format}`, { actorId: this.self }, err);
    }
    if (bytes.length > this.scope.maxMessageBytes) {
      throw aosError('ERR_PAYLOAD_TOO_LARGE', `message of ${bytes.length} bytes exceeds ${this.scope.maxMessageBytes}`, {
        actorId: this.self,
        size: bytes.length,
        limit: this.scope.maxMessageBytes,
      });
    }
    return compact(bytes);
  }
}
