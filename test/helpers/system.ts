// Starting nodes in tests: each test gets a namespace of its own (so tests never see each
// other's traffic), the shared nats-server, silent logs, and a shutdown when it finishes.

import { randomBytes } from 'node:crypto';
import { inject, onTestFinished } from 'vitest';
import { connect } from 'nats';
import { ActorSystem, ManualClock, type ActorSystemOptions } from 'autonomy-os';
import { GovernanceStore } from 'autonomy-os/internal';

/** The cluster key of each namespace a test started a node in (tests that pose as a node seal with it). */
const keys = new Map<string, Uint8Array>();

/** The key envelopes of a namespace are sealed with; undefined if no node of the tests started there. */
export function clusterKeyOf(namespace: string): Uint8Array | undefined {
  return keys.get(namespace);
}

async function rememberKey(namespace: string, given: string | undefined): Promise<void> {
  if (keys.has(namespace)) return;
  if (given !== undefined) {
    keys.set(namespace, new TextEncoder().encode(given));
    return;
  }
  const nc = await connect({ servers: inject('natsUrl'), name: 'test-key-reader' });
  try {
    const store = await GovernanceStore.open(nc, namespace);
    if (store !== undefined) keys.set(namespace, await store.clusterKey());
  } finally {
    await nc.close();
  }
}

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
  await rememberKey(system.subjects.prefix, options.clusterKey ?? process.env['AOS_CLUSTER_KEY']);
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
