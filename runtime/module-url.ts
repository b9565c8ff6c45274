// Module locations as the workers import them: a URL, or a path resolved against the working
// directory, always turned into a file: URL (the one rule for actor and tool modules).

import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';

export function resolveModule(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return new URL(module).href;
  return pathToFileURL(isAbsolute(module) ? module : resolvePath(module)).href;
}
