// Loads a user module inside a worker (an actor, or a tool of the tool pool): TypeScript
// through tsx's scoped loader (it does not touch other imports), JavaScript through a plain
// dynamic import, and checks its default export. Cached per worker; a failed load is not.

import { tsImport } from 'tsx/esm/api';
import { isActorDefinition, type ActorDefinition } from '../define-actor.js';
import type { ErrorCode } from '../errors/codes.js';
import { aosError, toAosError } from '../errors/aos-error.js';

const TS = /\.[cm]?tsx?$/;
const caches = new Map<string, Map<string, Promise<unknown>>>();

async function load<T>(url: string, is: (v: unknown) => v is T, code: ErrorCode, expected: string): Promise<T> {
  let ns: Record<string, unknown>;
  try {
    ns = TS.test(new URL(url).pathname) ? await tsImport(url, import.meta.url) : await import(url);
  } catch (err) {
    throw toAosError(err, code, { module: url });
  }
  // tsx may wrap a CommonJS-shaped module: accept `default.default` too.
  let def = ns['default'];
  if (!is(def) && typeof def === 'object' && def !== null) def = (def as Record<string, unknown>)['default'];
  if (!is(def)) throw aosError(code, `${url} does not default-export ${expected}`, { module: url });
  return def;
}

/** The checked default export of a module, loaded once per worker (a failed load is tried again next time: the file may be fixed). */
export function loadDefaultExport<T>(url: string, is: (v: unknown) => v is T, code: ErrorCode, expected: string): Promise<T> {
  let cache = caches.get(expected);
  if (cache === undefined) caches.set(expected, (cache = new Map()));
  let p = cache.get(url) as Promise<T> | undefined;
  if (p === undefined) {
    p = load(url, is, code, expected);
    p.catch(() => cache.delete(url));
    cache.set(url, p);
  }
  return p;
}

export function loadActorModule(url: string): Promise<ActorDefinition> {
  return loadDefaultExport(url, isActorDefinition, 'ERR_ACTOR_MODULE', 'defineActor({...})');
}
