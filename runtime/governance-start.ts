// What a node needs from central governance before it serves: the namespace's store (JetStream
// KV), the cluster key that seals its envelopes, and the policy it starts with. The store's
// policy wins (the cluster agrees on it); a node never starts on a policy that fails validation.

import type { Logger } from 'pino';
import { GovernanceStore } from './broker/governance-store.js';
import { defaultPolicyDoc, Policy } from './broker/policy.js';
import { loadPolicyFile, parsePolicy, type PolicyDoc } from './broker/policy-schema.js';
import { aosError, toAosError } from './errors/aos-error.js';
import type { ActorSystemOptions } from './system-options.js';
import type { NatsTransport } from './transport/nats-transport.js';

export interface NodeGovernance {
  store: GovernanceStore | undefined;
  key: Uint8Array;
  policy: Policy;
}

/**
 * The store, the cluster key and the first policy: the store's policy when it holds one
 * (the cluster agrees on it), else the one given (offered to the store), else the
 * development default (not stored; the node warns).
 */
export async function openGovernance(
  options: ActorSystemOptions,
  transport: NatsTransport,
  log: Logger,
): Promise<NodeGovernance> {
  const namespace = options.namespace ?? 'aos';
  const store = await GovernanceStore.open(transport.nc, namespace);
  const keyText = options.clusterKey ?? process.env['AOS_CLUSTER_KEY'];
  let key: Uint8Array;
  if (keyText !== undefined && keyText.length > 0) key = new TextEncoder().encode(keyText);
  else if (store !== undefined) key = await store.clusterKey();
  else {
    throw aosError('ERR_CONFIG', 'no cluster key: set the clusterKey option or AOS_CLUSTER_KEY, or use a NATS server with JetStream (the key is then kept there)', {});
  }
  const given: PolicyDoc | undefined =
    options.policy === undefined ? undefined : typeof options.policy === 'string' ? await loadPolicyFile(options.policy) : parsePolicy(options.policy, 'the policy option');
  if (store === undefined) {
    log.warn('NATS has no JetStream: the policy and suspensions apply to this node only');
    if (given !== undefined) return { store, key, policy: new Policy(given, namespace, 'local') };
    log.warn('no policy given: running the development default (everything inside the namespace)');
    return { store, key, policy: new Policy(defaultPolicyDoc(namespace), namespace, 'default') };
  }
  if (given !== undefined) await store.offerPolicy(given);
  const stored = await store.policy();
  if (stored !== undefined) {
    try {
      const policy = new Policy(parsePolicy(JSON.parse(stored.text), `stored policy (revision ${stored.revision})`), namespace, 'store', stored.revision);
      if (given !== undefined && policy.version !== new Policy(given, namespace).version) {
        log.warn({ inForce: policy.version, revision: stored.revision }, 'the cluster already has a policy: it stays in force (use `aos policy apply` to change it)');
      }
      return { store, key, policy };
    } catch (err) {
      log.error({ err: toAosError(err, 'ERR_POLICY').toWire(), revision: stored.revision }, 'the stored policy fails validation; it is not applied');
    }
  }
  if (given !== undefined) return { store, key, policy: new Policy(given, namespace, 'local') };
  log.warn('no policy given or stored: running the development default (everything inside the namespace); apply one with `aos policy apply FILE`');
  return { store, key, policy: new Policy(defaultPolicyDoc(namespace), namespace, 'default') };
}
