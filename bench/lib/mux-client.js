// The plain request/reply loop on nats.js that the ask benches compare against: one reply
// inbox subscription (`<inbox>.*`) and a Map of pending ids, which is how a careful nats.js
// user multiplexes requests. nc.request() is not used: it builds a subscription entry and
// an Error per call and costs several times more. The same client also plays the
// "any NATS client" sending JSON to an actor's task subject.

import { createInbox } from 'nats';

export class MuxClient {
  constructor(nc) {
    this.nc = nc;
    this.inbox = createInbox();
    this.pending = new Map();
    this.seq = 0;
    this.errors = 0;
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err !== null) return;
        const id = msg.subject.slice(this.inbox.length + 1);
        const resolve = this.pending.get(id);
        if (resolve === undefined) return;
        this.pending.delete(id);
        // A runtime error reply carries the `aos-error` header; a no-responders reply, a status code.
        if (msg.headers !== undefined && (msg.headers.hasError || msg.headers.has('aos-error'))) this.errors++;
        resolve(msg);
      },
    });
  }

  request(subject, data) {
    const id = (this.seq++).toString(36);
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.nc.publish(subject, data, { reply: `${this.inbox}.${id}` });
    });
  }

  /** Throws if any reply so far was an error: a bench must not count failures as work done. */
  assertNoErrors(what) {
    if (this.errors > 0) throw new Error(`${what}: ${this.errors} error replies`);
  }

  close() {
    this.sub.unsubscribe();
  }
}

/** The physical-limit responder: echoes every request with msg.respond. */
export function echoResponder(nc, subject) {
  return nc.subscribe(subject, { callback: (err, msg) => err === null && msg.respond(msg.data) });
}
