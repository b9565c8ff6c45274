// Loads an actor module inside a worker: TypeScript through tsx's scoped loader (it does
// not touch other imports), JavaScript through a plain dynamic import. Cached per worker.

import { tsImport } from 'tsx/esm/api';
import { isActorDefinition, type ActorDefinition } from '../define-actor.js';
import { aosError, toAosError } from '../errors/aos-error.js';

const cache = new Map<string, Promise<ActorDefinition>>();
const TS = /\.[cm]?tsx?$/;

async function load(url: string): Promise<ActorDefinition> {
  let ns: Record<string, unknown>;
  try {
    ns = TS.test(new URL(url).pathname) ? await tsImport(url, import.meta.url) : await import(url);
  } catch (err) {
    throw toAosError(err, 'ERR_ACTOR_MODULE', { module: url });
  }
  // tsx may wrap a CommonJS-shaped module: accept `default.default` too.
  let def = ns['default'];
  if (!isActorDefinition(def) && typeof def === 'object' && def !== null) def = (def as Record<string, unknown>)['default'];
  if (!isActorDefinition(def)) {
    throw aosError('ERR_ACTOR_MODULE', `${url} does not default-export defineActor({...})`, { module: url });
  }
  return def;
}

export function loadActorModule(url: string): Promise<ActorDefinition> {
  let p = cache.get(url);
  if (p === undefined) {
    p = load(url);
    // A failed load is not cached: the file may be fixed and the actor spawned again.
    p.catch(() => cache.delete(url));
    cache.set(url, p);
  }
  return p;
}
