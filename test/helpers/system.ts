// Starting nodes in tests: each test gets a namespace of its own (so tests never see each
// other's traffic), the shared nats-server, silent logs, and a shutdown when it finishes.

import { randomBytes } from 'node:crypto';
import { inject, onTestFinished } from 'vitest';
import { ActorSystem, ManualClock, type ActorSystemOptions } from 'autonomy-os';

/** A fresh subject prefix, e.g. `t3f9a1c2d`. */
export function uniqueNamespace(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** Absolute file URL of a fixture actor module. */
export function fixture(name: string): URL {
  return new URL(`../fixtures/${name}`, import.meta.url);
}

/** Starts a node on the shared server; it is shut down when the test finishes. */
export async function startSystem(options: ActorSystemOptions = {}): Promise<ActorSystem> {
  const system = await ActorSystem.start({
    nats: inject('natsUrl'),
    namespace: options.namespace ?? uniqueNamespace(),
    logLevel: 'silent',
    threads: 1,
    ...options,
  });
  onTestFinished(async () => {
    const done = system.shutdown({ timeoutMs: 5_000 });
    // On a manual clock the drain deadline would never come: a test that left a turn stuck
    // (a failing test, usually) must not also hang its cleanup.
    if (options.clock instanceof ManualClock) options.clock.advance(5_000);
    await done;
  });
  return system;
}

/** Runs `fn` and returns the error it throws (or rejects with); fails if it does not. */
export async function errorOf(fn: () => unknown): Promise<{ code?: unknown; details?: unknown; name?: unknown }> {
  try {
    await fn();
  } catch (err) {
    return err as { code?: unknown };
  }
  throw new Error('expected an error, got none');
}

/** The error code a promise rejects with, or `'(resolved)'`; never rejects, so it can be awaited late. */
export function codeOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => '(resolved)',
    (err: { code?: unknown }) => err?.code,
  );
}
