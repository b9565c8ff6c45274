// The entry of the tool workers: a tool registered with `{ module }` runs here, in a worker
// pool of its own, apart from the actors' pool. Arguments and results are validated against
// the module's schemas here; errors go back as `{code, message, details}`. The kernel never
// imports this file (the pool loads it by path).

import { decodeValue, encodeValue } from '../envelope.js';
import { aosError, toAosError, type WireError } from '../errors/aos-error.js';
import { isToolDefinition, type ToolDefinition } from './define-tool.js';
import type { ToolTask, ToolTaskResult } from './tool-wire.js';
import { loadDefaultExport } from '../worker/load-module.js';

function loadTool(url: string): Promise<ToolDefinition> {
  return loadDefaultExport(url, isToolDefinition, 'ERR_CONFIG', 'defineTool({...})');
}

const issues = (e: { issues: { path: PropertyKey[]; message: string }[] }) => e.issues.map((i) => ({ path: i.path.map(String), message: i.message }));

export default async function runTool(task: ToolTask): Promise<ToolTaskResult> {
  const controller = new AbortController();
  task.port.on('message', (m: { t?: string; reason?: WireError }) => {
    if (m?.t === 'abort') controller.abort(m.reason);
  });
  try {
    const def = await loadTool(task.module);
    const parsed = def.input.safeParse(decodeValue(task.args, 'msgpack'));
    if (!parsed.success) throw aosError('ERR_TOOL_INPUT', `arguments for ${task.tool} fail its input schema`, { tool: task.tool, issues: issues(parsed.error) });
    const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(aosError('ERR_TOOL_FAILED', `tool ${task.tool} was aborted`, { tool: task.tool, abortedBy: (controller.signal.reason as WireError | undefined)?.code ?? null })), { once: true }));
    const result = await Promise.race([
      Promise.resolve(
        def.run(parsed.data, {
          signal: controller.signal,
          actor: task.actor,
          correlationId: task.correlationId,
          traceparent: task.traceparent,
          report: (unit, amount) => task.port.postMessage({ t: 'report', unit, amount }),
        }),
      ),
      aborted,
    ]);
    let value: unknown = result;
    if (def.output !== undefined) {
      const out = def.output.safeParse(result);
      if (!out.success) throw aosError('ERR_TOOL_OUTPUT', `tool ${task.tool} returned a result that breaks its output schema`, { tool: task.tool, issues: issues(out.error) });
      value = out.data;
    }
    return { ok: true, result: encodeValue(value, 'msgpack') };
  } catch (err) {
    return { ok: false, error: toAosError(err, 'ERR_TOOL_FAILED', { tool: task.tool }).toWire() };
  } finally {
    // The last message on the port: the kernel has every report before it takes the result.
    task.port.postMessage({ t: 'end' });
    task.port.close();
  }
}
