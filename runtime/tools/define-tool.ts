// A tool that runs in a worker of its own: its module default-exports `defineTool({...})`,
// and the kernel registers it with `system.registerTool(name, { module })`. The same shape as
// an in-kernel tool, so a connector can move between the two without changing its code.

import type { z } from 'zod';
import { aosError } from '../errors/aos-error.js';

/** What a tool's `run` gets besides its arguments (in the kernel or in its worker). */
export interface ToolRunContext {
  /** Aborted when the call times out, or its actor is suspended, stopped or its turn abandoned. */
  readonly signal: AbortSignal;
  /** The calling actor's AgentId, role and owner, stamped by the kernel. */
  readonly actor: { id: string; role: string | null; owner: string | null };
  readonly correlationId: string;
  /** W3C traceparent of this call. */
  readonly traceparent: string;
  /** Units this call spent (model tokens, cost), counted against the actor's budgets. */
  report(unit: string, amount: number): void;
}

export interface ToolDefinition<I = unknown, O = unknown> {
  readonly input: z.ZodType<I>;
  readonly output?: z.ZodType<O>;
  run(args: I, ctx: ToolRunContext): O | Promise<O>;
}

const TOOL_MARK = Symbol.for('autonomy-os.tool-definition');

export function defineTool<I, O>(spec: { input: z.ZodType<I>; output?: z.ZodType<O>; run: (args: I, ctx: ToolRunContext) => O | Promise<O> }): ToolDefinition<I, O> {
  if (spec === null || typeof spec !== 'object' || typeof spec.run !== 'function' || typeof (spec.input as { safeParse?: unknown })?.safeParse !== 'function') {
    throw aosError('ERR_CONFIG', 'defineTool expects { input: zod schema, output?: zod schema, run: function }');
  }
  const def = { ...spec };
  Object.defineProperty(def, TOOL_MARK, { value: true });
  return Object.freeze(def) as ToolDefinition<I, O>;
}

export function isToolDefinition(value: unknown): value is ToolDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TOOL_MARK] === true;
}
