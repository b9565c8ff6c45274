// Tools: the connectors through which actors reach enterprise systems. A tool runs in the
// kernel with its secrets, never in a worker; an actor reaches it only with `ctx.call`,
// only if its role is granted the tool, with arguments and results checked by the tool's
// zod schemas. Every call can be aborted (timeout, suspension, stop) through its signal.

import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Clock } from '../clock.js';
import { AosError, aosError, toAosError } from '../errors/aos-error.js';
import { formatTraceparent, newMessageId } from '../ids.js';
import { subjectProblem } from '../subjects.js';
import { resolveModule } from '../module-url.js';
import { WorkerTools } from './worker-tools.js';

/** What a tool's `run` gets besides its arguments. */
export interface ToolContext {
  /** Aborted when the call times out, or its actor is suspended, stopped or its turn abandoned. */
  readonly signal: AbortSignal;
  /** The calling actor's AgentId, role and owner, stamped by the kernel. */
  readonly actor: { id: string; role: string | null; owner: string | null };
  readonly correlationId: string;
  /** W3C traceparent of this call (a child span of the calling turn's chain). */
  readonly traceparent: string;
  readonly log: Logger;
  /** Units this call spent (model tokens, cost), counted against the actor's budgets. */
  report(unit: string, amount: number): void;
}

export interface ToolSpec<I = unknown, O = unknown> {
  input: z.ZodType<I>;
  output?: z.ZodType<O>;
  run: (args: I, ctx: ToolContext) => O | Promise<O>;
  /** Longest call allowed, whatever the caller asks (default 60 s). */
  timeoutMs?: number;
  description?: string;
}

/** A tool whose code runs in a worker of the tool pool, apart from the kernel and the actors:
 *  its module default-exports `defineTool({ input, output, run })`. */
export interface WorkerToolSpec {
  module: string | URL;
  timeoutMs?: number;
  description?: string;
}

export type ToolRegistration<I = unknown, O = unknown> = ToolSpec<I, O> | WorkerToolSpec;

function isWorkerTool(spec: ToolRegistration): spec is WorkerToolSpec {
  return typeof spec === 'object' && spec !== null && 'module' in spec;
}

export interface ToolCall {
  actor: { id: string; role: string | null; owner: string | null };
  tool: string;
  args: unknown;
  timeoutMs: number;
  correlationId: string;
  report: (unit: string, amount: number) => void;
}

const DEFAULT_TOOL_TIMEOUT_MS = 60_000;

function issues(e: z.ZodError): { path: string[]; message: string }[] {
  return e.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
}

export class ToolRegistry {
  private readonly tools = new Map<string, ToolSpec | { module: string; timeoutMs?: number }>();
  private workers: WorkerTools | undefined;
  /** In-flight calls per actor, so a suspension or stop aborts them. */
  private readonly inflight = new Map<string, Set<AbortController>>();

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    /** Threads of the pool that runs `{ module }` tools (started at the first call to one). */
    private readonly threads = 1,
  ) {}

  /** Stops the tool pool, if one was started. */
  async close(): Promise<void> {
    await this.workers?.destroy();
  }

  register(name: string, spec: ToolRegistration): void {
    const problem = subjectProblem(name);
    if (problem !== undefined) throw aosError('ERR_CONFIG', `tool name ${JSON.stringify(name)} ${problem} (names are dot-separated tokens, like subjects)`, { tool: name });
    if (this.tools.has(name)) throw aosError('ERR_CONFIG', `tool ${name} is already registered`, { tool: name });
    if (isWorkerTool(spec)) {
      this.tools.set(name, { module: resolveModule(spec.module), ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }) });
      return;
    }
    if (spec === null || typeof spec !== 'object' || typeof spec.run !== 'function' || typeof (spec.input as { safeParse?: unknown })?.safeParse !== 'function') {
      throw aosError('ERR_CONFIG', `tool ${name} needs { input: zod schema, run: function }`, { tool: name });
    }
    this.tools.set(name, spec);
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  /** Runs a call the broker allowed; rejects with ERR_UNKNOWN_TOOL, ERR_TOOL_INPUT, ERR_TOOL_OUTPUT, ERR_TOOL_FAILED or ERR_TIMEOUT. */
  async call(c: ToolCall): Promise<unknown> {
    const spec = this.tools.get(c.tool);
    if (spec === undefined) throw aosError('ERR_UNKNOWN_TOOL', `no tool ${c.tool} is registered on this node`, { tool: c.tool });
    let run: (ctx: ToolContext) => unknown;
    if ('module' in spec) {
      const workers = (this.workers ??= new WorkerTools(this.threads));
      run = (ctx) => workers.run(spec.module, c.tool, c.args, ctx);
    } else {
      const parsed = spec.input.safeParse(c.args);
      if (!parsed.success) throw aosError('ERR_TOOL_INPUT', `arguments for ${c.tool} fail its input schema`, { tool: c.tool, issues: issues(parsed.error) });
      run = async (ctx) => {
        const result = await spec.run(parsed.data, ctx);
        if (spec.output === undefined) return result;
        const out = spec.output.safeParse(result);
        if (!out.success) throw aosError('ERR_TOOL_OUTPUT', `tool ${c.tool} returned a result that breaks its output schema`, { tool: c.tool, issues: issues(out.error) });
        return out.data;
      };
    }
    const controller = new AbortController();
    const timeoutMs = Math.min(c.timeoutMs, spec.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS);
    const timer = this.clock.setTimeout(() => controller.abort(aosError('ERR_TIMEOUT', `tool ${c.tool} ran past ${timeoutMs} ms`, { tool: c.tool, timeoutMs })), timeoutMs);
    let set = this.inflight.get(c.actor.id);
    if (set === undefined) this.inflight.set(c.actor.id, (set = new Set()));
    set.add(controller);
    const ctx: ToolContext = {
      signal: controller.signal,
      actor: c.actor,
      correlationId: c.correlationId,
      traceparent: formatTraceparent(c.correlationId, newMessageId()),
      log: this.log.child({ tool: c.tool, actor: c.actor.id, correlationId: c.correlationId }),
      report: c.report,
    };
    try {
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(abortError(c.tool, controller.signal.reason));
        if (controller.signal.aborted) fail();
        else controller.signal.addEventListener('abort', fail, { once: true });
      });
      return await Promise.race([Promise.resolve().then(() => run(ctx)), aborted]);
    } catch (err) {
      if (err instanceof AosError) throw err;
      throw toAosError(err, 'ERR_TOOL_FAILED', { tool: c.tool });
    } finally {
      this.clock.clearTimeout(timer);
      set.delete(controller);
      if (set.size === 0) this.inflight.delete(c.actor.id);
    }
  }

  /** Aborts every in-flight call of an actor (suspended, stopped, or its turn abandoned). */
  abortActor(actorId: string, reason: AosError): number {
    const set = this.inflight.get(actorId);
    if (set === undefined) return 0;
    for (const c of set) c.abort(reason);
    return set.size;
  }
}

function abortError(tool: string, reason: unknown): AosError {
  const r = toAosError(reason, 'ERR_TOOL_FAILED', { tool });
  if (r.code === 'ERR_TIMEOUT') return r;
  return aosError('ERR_TOOL_FAILED', `tool ${tool} was aborted: ${r.message}`, { tool, abortedBy: r.code }, r);
}
