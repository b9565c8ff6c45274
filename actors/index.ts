// The built-in actors, for the node to spawn: each one's module URL (the built file beside this
// one) and the types of its config and messages. Importing this loads none of their code.

/** The tracer (tracer.ts): spawn as type `tracer` with `subscribe: ['<ns>.trace.>']` and `config: { file }` (or `{ stream }` on a node that opened it: startTracer). */
export const TRACER_MODULE: URL = new URL('./tracer.js', import.meta.url);
export { TRACER_TYPE } from '../runtime/trace/trace-query.js';
export type { TracerConfig, TracerState } from './tracer.js';
