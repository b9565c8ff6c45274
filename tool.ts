// `autonomy-os/tool`: what a tool module that runs in the tool pool needs (`defineTool`), and
// nothing of the kernel.

export { defineTool } from './runtime/tools/define-tool.js';
export type { ToolDefinition, ToolRunContext } from './runtime/tools/define-tool.js';
export { AosError } from './runtime/errors/aos-error.js';
