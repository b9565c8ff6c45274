// The trace records (ARCHITECTURE.md, "Trace and audit"), in the form readers see them: one
// per envelope event, one per broker decision, one per supervision or governance event.
// Plain JSON objects; on the wire they travel compactly (trace-codec.ts).

import type { DecisionRecord } from '../broker/broker.js';

/** What happened to an envelope. */
export type EnvelopeEvent =
  | 'received' // accepted into an actor's mailbox
  | 'turn.started'
  | 'turn.finished' // with durationMs and outcome (ok or an error code)
  | 'sent' // a tell, publish or ask left its sender
  | 'replied' // the message was answered (outcome ok, or the error code)
  | 'failed' // its turn failed (outcome: the code)
  | 'retried' // it goes round again after a restart (attempt)
  | 'dead-lettered'; // it will not be handled (outcome: the code)

export interface EnvelopeRecord {
  type: 'envelope';
  event: EnvelopeEvent;
  at: number;
  node: string;
  /** Where it happened: the receiver (received, turn, failed, retried, replied, dead-lettered) or the sender (sent). */
  actor: string;
  id: string;
  correlationId: string;
  causationId: string | null;
  traceparent: string;
  kind: string;
  from: string;
  to: string;
  subject: string;
  size: number;
  outcome?: string;
  durationMs?: number;
  attempt?: number;
}

/** Governance events; `approval`: a request or escalation changed (requested, escalated, decided, refused, expired, executed...), with its id, who and how long it waited. */
export interface GovernanceRecord {
  type: 'policy' | 'suspension' | 'supervision' | 'trace' | 'approval';
  at: number;
  node: string;
  [field: string]: unknown;
}

export type TraceRecord = EnvelopeRecord | DecisionRecord | GovernanceRecord;
