// The node config file of `aos start`: JSON, checked with zod so a mistake is reported as
// the path of the bad field and what is wrong with it. Actor module and policy paths are
// resolved against the config file's directory, so a config works from any working directory.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { subjectProblem, tokenProblem } from '../internal.js';

const token = z.string().superRefine((s, ctx) => {
  const problem = tokenProblem(s);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} ${problem}` });
});

const taskSubject = z.string().superRefine((s, ctx) => {
  const problem = subjectProblem(s, { wildcards: true });
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `subject ${JSON.stringify(s)} ${problem}` });
});

const actorSchema = z.strictObject({
  module: z.string().min(1),
  type: token,
  key: token,
  tasks: z.array(taskSubject).optional(),
});

// Strict objects: a misspelt field ("namepsace") is an error, not a silently ignored key.
export const nodeConfigSchema = z
  .strictObject({
    nats: z.string().min(1).optional(),
    namespace: token.optional(),
    nodeId: token.optional(),
    threads: z.number().int().min(1).max(256).optional(),
    /** A policy file (JSON), relative to the config file. */
    policy: z.string().min(1).optional(),
    actors: z.array(actorSchema),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.actors.forEach((a, i) => {
      const id = `${a.type}/${a.key}`;
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['actors', i], message: `actor ${id} is listed twice` });
      seen.add(id);
    });
  });

export type NodeConfig = z.infer<typeof nodeConfigSchema>;

export interface ActorEntry {
  /** The module as a file: or other URL, resolved against the config file's directory. */
  module: URL;
  type: string;
  key: string;
  tasks: string[];
}

export interface LoadedConfig extends Omit<NodeConfig, 'actors'> {
  actors: ActorEntry[];
}

/** A config file that cannot be read, parsed or validated; `path` is the bad field ("(root)" for the file). */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`invalid config ${file}: ${path}: ${problem}`);
  }
}

/** `actors[0].tasks[1]` from zod's ['actors', 0, 'tasks', 1]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out === '' ? '(root)' : out;
}

function resolveModule(spec: string, baseDir: string): URL {
  if (/^[a-z][a-z0-9+.-]+:/i.test(spec)) return new URL(spec); // file:, data:, ... (not a Windows drive letter)
  return pathToFileURL(isAbsolute(spec) ? spec : resolve(baseDir, spec));
}

/** Validates an already-parsed config value; module paths resolve against `baseDir`. */
export function parseNodeConfig(value: unknown, file: string, baseDir: string): LoadedConfig {
  const r = nodeConfigSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigFileError(file, formatPath(issue.path), issue.message);
  }
  const { actors, policy, ...rest } = r.data;
  return {
    ...rest,
    ...(policy === undefined ? {} : { policy: isAbsolute(policy) ? policy : resolve(baseDir, policy) }),
    actors: actors.map((a) => ({ module: resolveModule(a.module, baseDir), type: a.type, key: a.key, tasks: a.tasks ?? [] })),
  };
}

export function loadNodeConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(file, '(root)', `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigFileError(file, '(root)', `not valid JSON (${(err as Error).message})`);
  }
  return parseNodeConfig(value, file, dirname(resolve(file)));
}
