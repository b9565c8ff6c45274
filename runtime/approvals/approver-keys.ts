// Who decides: people named in the policy (`people.<name>: {roles, publicKey}`) sign each
// decision with their ed25519 key, so a decision cannot be made in their name without the
// key, whichever NATS client carries it. The signed text is the canonical JSON of the body
// without its `signature`; the key in the policy is the base64 SPKI DER of the public key.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { aosError } from '../errors/aos-error.js';

export interface ApproverKey {
  /** PKCS#8 PEM: the person keeps it. */
  privateKeyPem: string;
  /** Base64 SPKI DER: goes in the policy's `people.<name>.publicKey`. */
  publicKey: string;
}

export function generateApproverKey(): ApproverKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

/** A private key from PEM text; ERR_CONFIG when it is not an ed25519 private key. */
export function privateKeyOf(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw aosError('ERR_CONFIG', 'the approver key is not a PEM private key (make one with `aos approvals keygen`)', {}, err);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw aosError('ERR_CONFIG', `the approver key is ${key.asymmetricKeyType ?? 'not asymmetric'}, not ed25519`, {});
  return key;
}

/** A public key from the policy's base64 SPKI DER; undefined when it is not one. */
export function publicKeyOf(base64: string): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

function signedText(body: Record<string, unknown>): Buffer {
  const { signature: _s, ...rest } = body;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** The body with its `signature` (base64). */
export function signBody<T extends Record<string, unknown>>(body: T, key: KeyObject): T & { signature: string } {
  return { ...body, signature: sign(null, signedText(body), key).toString('base64') };
}

export function verifyBody(body: Record<string, unknown>, publicKey: KeyObject): boolean {
  const sig = body.signature;
  if (typeof sig !== 'string') return false;
  try {
    return verify(null, signedText(body), publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}
