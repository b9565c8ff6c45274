import { describe, expect, test } from 'vitest';
import { AosError, EXTERNAL, isAgentId } from 'autonomy-os';
import { agentId, MAX_TOKEN_LENGTH, parseAgentId, tokenProblem } from 'autonomy-os/internal';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AosError);
    return (err as AosError).code;
  }
  return undefined;
}

describe('AgentId', () => {
  test('AgentId - a well-formed id parses into type and key', () => {
    expect(parseAgentId('echo/one')).toEqual({ type: 'echo', key: 'one' });
    expect(parseAgentId('Mixed-Case_type/Key-42')).toEqual({ type: 'Mixed-Case_type', key: 'Key-42' });
    expect(parseAgentId('über/ключ')).toEqual({ type: 'über', key: 'ключ' });
  });

  test('AgentId - tokens of exactly the maximum length are accepted, one more is not', () => {
    const max = 'a'.repeat(MAX_TOKEN_LENGTH);
    expect(parseAgentId(`${max}/${max}`)).toEqual({ type: max, key: max });
    expect(codeOf(() => parseAgentId(`${max}a/k`))).toBe('ERR_INVALID_ID');
    expect(codeOf(() => parseAgentId(`t/${max}a`))).toBe('ERR_INVALID_ID');
  });

  test('AgentId - malformed ids are ERR_INVALID_ID', () => {
    const bad = [
      'noslash',
      'a/b/c',
      '/key',
      'type/',
      '/',
      '',
      'a.b/c',
      'a/b.c',
      'a*/b',
      'a/*',
      'a/>',
      '>/b',
      'a b/c',
      'a/b c',
      'a\t/b',
      'a/b\n',
      'a\u0000/b',
      'a/\u007f',
      'a/\u0085',
      'a/\u00a0',
      ' a/b',
    ];
    for (const id of bad) expect(codeOf(() => parseAgentId(id)), JSON.stringify(id)).toBe('ERR_INVALID_ID');
  });

  test('AgentId - non-string ids are ERR_INVALID_ID', () => {
    for (const id of [undefined, null, 42, {}, ['a', 'b']]) expect(codeOf(() => parseAgentId(id))).toBe('ERR_INVALID_ID');
  });

  test('AgentId - isAgentId agrees with parseAgentId', () => {
    expect(isAgentId('a/b')).toBe(true);
    expect(isAgentId('a.b/c')).toBe(false);
    expect(isAgentId(7)).toBe(false);
    expect(isAgentId(EXTERNAL)).toBe(false);
  });

  test('AgentId - agentId builds type/key and validates both tokens', () => {
    expect(agentId('echo', 'x')).toBe('echo/x');
    expect(codeOf(() => agentId('a/b', 'x'))).toBe('ERR_INVALID_ID');
    expect(codeOf(() => agentId('echo', ''))).toBe('ERR_INVALID_ID');
    expect(codeOf(() => agentId('echo', 'x.y'))).toBe('ERR_INVALID_ID');
  });

  test('AgentId - tokenProblem names a problem only for unsafe tokens', () => {
    expect(tokenProblem('fine-token_1')).toBeUndefined();
    for (const t of ['', 'a.b', 'a*', '>', 'a/b', 'a b', '\u0001', 'x'.repeat(MAX_TOKEN_LENGTH + 1)]) {
      expect(tokenProblem(t), JSON.stringify(t)).toEqual(expect.any(String));
    }
  });
});
