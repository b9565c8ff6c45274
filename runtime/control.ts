// The control plane of one node on `<ns>.ctl.<node>.<verb>` (and `<ns>.ctl.all.<verb>` for
// every node): any NATS client can list a node's actors, stop one, read the policy in force,
// suspend or resume actors (lock these subjects down with NATS permissions in production).
// Requests and replies are JSON; errors come back as `{"error":{code,message}}`.

import type { Msg, Subscription } from 'nats';
import type { Logger } from 'pino';
import { aosError, toAosError } from './errors/aos-error.js';
import type { Subjects } from './subjects.js';
import type { NatsTransport } from './transport/nats-transport.js';

/** Reserved node id that addresses every node at once. */
export const ALL_NODES = 'all';

export interface ControlHandlers {
  list: () => unknown;
  tree: () => unknown;
  /** Whether this node serves a task subject now (nodes that do not, stay silent). */
  serves: (subject: string) => boolean;
  /** Another node serves a subject again. */
  up: (subject: string) => void;
  stop: (id: string) => Promise<boolean>;
  /** The policy version in force and the suspensions. */
  policy: () => unknown;
  suspend: (target: string, by: string, reason: string | undefined) => Promise<unknown>;
  resume: (target: string) => Promise<unknown>;
  /** A query for this node's tracer (undefined when none runs here: the node stays silent). */
  trace: (query: Record<string, unknown>) => Promise<unknown> | undefined;
}

function target(args: Record<string, unknown>, verb: string): string {
  const t = args['target'];
  if (typeof t !== 'string' || t.length === 0) throw aosError('ERR_BAD_REQUEST', `${verb} needs {"target":"type/key" or "role:<name>"}`, { verb });
  return t;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ControlPlane {
  private readonly subs: Subscription[];

  constructor(
    private readonly transport: NatsTransport,
    private readonly subjects: Subjects,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly handlers: ControlHandlers,
  ) {
    this.subs = [nodeId, ALL_NODES].map((n) =>
      transport.subscribe(`${subjects.prefix}.ctl.${n}.*`, (m) => {
        void this.onRequest(m);
      }),
    );
  }

  /** Asks every node to stop an actor (used when an actor stops one that is not local). */
  broadcastStop(id: string): void {
    this.transport.publish(this.subjects.control(ALL_NODES, 'stop'), encoder.encode(JSON.stringify({ id })), { headers: this.transport.jsonHeaders });
  }

  async close(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.drain().catch(() => undefined)));
  }

  private async onRequest(m: Msg): Promise<void> {
    const verb = m.subject.slice(m.subject.lastIndexOf('.') + 1);
    let body: unknown;
    try {
      const args = m.data.length === 0 ? {} : (JSON.parse(decoder.decode(m.data)) as Record<string, unknown>);
      switch (verb) {
        case 'ping':
          body = { node: this.nodeId };
          break;
        case 'list':
          body = { node: this.nodeId, actors: this.handlers.list() };
          break;
        case 'tree':
          body = this.handlers.tree();
          break;
        case 'serves':
          if (typeof args['subject'] !== 'string' || !this.handlers.serves(args['subject'])) return;
          body = { node: this.nodeId, serves: args['subject'] };
          break;
        case 'up':
          if (typeof args['subject'] === 'string') this.handlers.up(args['subject']);
          return;
        case 'stop': {
          if (typeof args['id'] !== 'string') throw aosError('ERR_BAD_REQUEST', 'stop needs {"id":"type/key"}');
          body = { node: this.nodeId, stopped: await this.handlers.stop(args['id']) };
          break;
        }
        case 'policy':
          body = this.handlers.policy();
          break;
        case 'suspend':
          body = await this.handlers.suspend(target(args, verb), typeof args['by'] === 'string' ? args['by'] : 'external', typeof args['reason'] === 'string' ? args['reason'] : undefined);
          break;
        case 'trace': {
          const answer = this.handlers.trace(args);
          if (answer === undefined) return;
          body = await answer;
          break;
        }
        case 'resume':
          body = await this.handlers.resume(target(args, verb));
          break;
        default:
          throw aosError('ERR_BAD_REQUEST', `unknown control verb ${verb}`, { verb });
      }
    } catch (err) {
      const e = toAosError(err, err instanceof SyntaxError ? 'ERR_DECODE' : 'ERR_INTERNAL');
      this.log.warn({ verb, code: e.code }, 'control request failed');
      body = { error: e.toWire() };
    }
    if (m.reply) this.transport.publish(m.reply, encoder.encode(JSON.stringify(body)), { headers: this.transport.jsonHeaders });
  }
}
