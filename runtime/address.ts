// Actor identity: `AgentId = type/key`. Both parts are NATS-safe tokens; this file is the
// one place they are validated, so every other module can trust a parsed AgentId.

import { aosError } from './errors/aos-error.js';

export type AgentId = `${string}/${string}`;

export interface AgentAddress {
  readonly type: string;
  readonly key: string;
}

export const MAX_TOKEN_LENGTH = 128;

/** The sender of a message that did not come from a node of the runtime. */
export const EXTERNAL = 'external';

// No `.`, `*`, `>`, `/`, whitespace or control characters (C0, DEL, C1).
const UNSAFE = /[.*>/\s\u0000-\u001f\u007f-\u009f]/u;

/** Why `token` is not a NATS-safe token, or undefined if it is one. */
export function tokenProblem(token: string): string | undefined {
  if (token.length === 0) return 'is empty';
  if (token.length > MAX_TOKEN_LENGTH) return `is longer than ${MAX_TOKEN_LENGTH} characters`;
  if (UNSAFE.test(token)) return "contains '.', '*', '>', '/', whitespace or a control character";
  return undefined;
}

export function assertToken(token: string, what: string): void {
  const problem = tokenProblem(token);
  if (problem !== undefined) {
    throw aosError('ERR_INVALID_ID', `${what} ${JSON.stringify(token)} ${problem}`, { token, what });
  }
}

export function parseAgentId(id: unknown): AgentAddress {
  if (typeof id !== 'string') {
    throw aosError('ERR_INVALID_ID', `an AgentId must be a string "type/key", got ${typeof id}`, { id: String(id) });
  }
  const slash = id.indexOf('/');
  if (slash < 0 || slash !== id.lastIndexOf('/')) {
    throw aosError('ERR_INVALID_ID', `AgentId ${JSON.stringify(id)} must have exactly one '/' (type/key)`, { id });
  }
  const type = id.slice(0, slash);
  const key = id.slice(slash + 1);
  assertToken(type, 'actor type');
  assertToken(key, 'actor key');
  return { type, key };
}

export function agentId(type: string, key: string): AgentId {
  assertToken(type, 'actor type');
  assertToken(key, 'actor key');
  return `${type}/${key}`;
}

export function isAgentId(id: unknown): id is AgentId {
  try {
    parseAgentId(id);
    return true;
  } catch {
    return false;
  }
}
