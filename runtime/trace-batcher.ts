// Trace records leave the node in batches on `<ns>.trace.<node>`: every record made during
// one turn of the event loop goes out as one JSON message `{node, records}`, so recording
// every decision costs one publish per burst, not one per record. JSON, so any client reads it.

import type { NatsTransport } from './transport/nats-transport.js';

const MAX_BATCH = 512;
const encoder = new TextEncoder();

export class TraceBatcher {
  private pending: unknown[] = [];
  private scheduled = false;
  /** Records handed to NATS since start. */
  published = 0;

  constructor(
    private readonly transport: NatsTransport,
    private readonly subject: string,
    private readonly nodeId: string,
  ) {}

  add(record: unknown): void {
    this.pending.push(record);
    if (this.pending.length >= MAX_BATCH) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || this.transport.closed) return;
    const records = this.pending;
    this.pending = [];
    this.transport.publish(this.subject, encoder.encode(JSON.stringify({ node: this.nodeId, records })), { headers: this.transport.jsonHeaders });
    this.published += records.length;
  }
}
