// What the approval queue holds: requests for a human decision on one bound action, and
// escalations that machines could not resolve. One JSON item per id in the namespace's
// `<ns>-approvals` KV bucket; every change is also published on `<ns>.approval.<id>`.

/** An action bound to a request: the kernel performs exactly this once, if approved. */
export interface BoundAction {
  /** `call` a tool, `publish` on a subject, `tell` an actor, or `custom`: nothing for the kernel to perform (the actor acts on the decision). */
  kind: 'call' | 'publish' | 'tell' | 'custom';
  /** The tool, subject or AgentId (for custom: a name the actor chose). */
  target: string;
  /** The arguments or message value (JSON-compatible). */
  args: unknown;
}

/** One link of an escalation chain: who may decide (people's or actors' roles), and for how long. */
export interface ChainStep {
  approvers: string[];
  timeoutMs: number;
}

export type ApprovalStatus =
  | 'pending' // waiting for a person (the current chain step)
  | 'approved' // decided yes; the bound action is about to run on the requester's node
  | 'executing' // claimed by a node that is performing it
  | 'executed' // performed once; `result` holds what it returned
  | 'denied'
  | 'expired' // the chain ran out with no decision (onExhausted: deny)
  | 'failed' // approved but could not be performed (the result says why)
  | 'open' // an escalation waiting for a person
  | 'resolved'; // an escalation a person acted on

export type HistoryEvent =
  | 'requested'
  | 'escalated'
  | 'decided'
  | 'refused'
  | 'expired'
  | 'executing'
  | 'executed'
  | 'failed'
  | 'delivered'
  | 'task-held'
  | 'served' // an instance serves the escalation's subject again
  | 'resolved';

export interface HistoryEntry {
  at: number;
  event: HistoryEvent;
  by?: string;
  detail?: string;
}

export interface Decision {
  by: string;
  decision: 'approve' | 'deny' | 'timeout';
  reason?: string;
  at: number;
}

export type ActionResult = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

/** A task that reached a subject with no live instance, kept so a person can act on it. */
export interface HeldTask {
  subject: string;
  replyTo?: string;
  correlationId: string;
  messageId: string;
  /** The payload as text (JSON from most clients), or base64 when it is not UTF-8. */
  payload: string;
  encoding: 'utf8' | 'base64';
  at: number;
}

export interface EscalationInfo {
  reason: { code: string; message: string };
  supervisor?: string;
  offender?: string;
  subject?: string;
  type?: string;
  tasks: HeldTask[];
}

export type EscalationAction = 'restart' | 'reroute' | 'drop' | 'reply';

export interface Resolution {
  by: string;
  action: EscalationAction;
  to?: string;
  value?: unknown;
  reason?: string;
  at: number;
}

export interface ApprovalItem {
  id: string;
  kind: 'approval' | 'escalation';
  status: ApprovalStatus;
  createdAt: number;
  /** The node that created the item. */
  node: string;
  /** The actor that asked (approvals). */
  requester?: string;
  role?: string | null;
  owner?: string | null;
  action?: BoundAction;
  /** sha256 (hex) of the canonical JSON of `action`: a decision names it, so a changed action never matches. */
  actionHash?: string;
  /** Why a person is asked: the actor's reason, or the rule that held the action. */
  reason?: string;
  rule?: string;
  correlationId: string;
  causationId: string | null;
  chain: ChainStep[];
  /** The chain step waiting now. */
  step: number;
  /** When the current step runs out (ms since the epoch, by the deciding node's clock). */
  deadline: number;
  onExhausted: 'deny' | 'approve';
  decision?: Decision;
  result?: ActionResult;
  history: HistoryEntry[];
  escalation?: EscalationInfo;
  resolution?: Resolution;
}

/** What an actor gets back (its `onApproval` handler) once its request is settled. */
export interface ApprovalOutcome {
  approvalId: string;
  status: 'executed' | 'approved' | 'denied' | 'expired' | 'failed';
  action: BoundAction;
  decidedBy?: string;
  reason?: string;
  /** For an executed action: what it returned (a tool's result; null for publish and tell). */
  result?: unknown;
  error?: { code: string; message: string };
}

export const OPEN_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'executing', 'open'];

/** Decision bodies, as signed by the person (every field but `signature`). */
export interface DecideBody {
  id: string;
  decision: 'approve' | 'deny';
  actionHash: string;
  approver: string;
  reason?: string;
  at: number;
  signature: string;
}

export interface ActBody {
  id: string;
  action: EscalationAction;
  to?: string;
  value?: unknown;
  approver: string;
  reason?: string;
  at: number;
  signature: string;
}
