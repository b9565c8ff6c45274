// The closed catalogue of error codes. A code, once published, is never reused or renamed;
// the README's error table is checked against this list by a test (both directions).

export const ERROR_CODES = {
  ERR_INVALID_ID: 'An AgentId or one of its tokens is malformed (must be type/key, NATS-safe tokens).',
  ERR_INVALID_SUBJECT: 'A subject is malformed (empty token, whitespace, control character, wildcard where not allowed, too long).',
  ERR_DECODE: 'A message body is not valid JSON or msgpack, or is truncated.',
  ERR_ENCODE: 'A value cannot be encoded for the wire (circular, a function, a BigInt in JSON).',
  ERR_INPUT_SCHEMA: "A message failed the actor's input schema.",
  ERR_OUTPUT_SCHEMA: "A handler returned a state or reply that breaks the actor's declared schema.",
  ERR_PAYLOAD_TOO_LARGE: 'A message is larger than the node accepts (maxMessageBytes).',
  ERR_UNKNOWN_ACTOR: 'No actor with that id is running on any node.',
  ERR_MAILBOX_FULL: "The actor's mailbox is full and its overflow policy rejects new messages.",
  ERR_HANDLER_FAILED: 'The handler threw; its state change and effects were discarded.',
  ERR_NO_REPLY: 'The actor finished the turn that handled an ask without replying.',
  ERR_DEADLOCK: 'An actor asked itself: the ask would wait for the very turn that makes it.',
  ERR_TIMEOUT: 'An ask got no reply before its deadline.',
  ERR_ACTOR_MODULE: 'An actor module could not be loaded or does not default-export defineActor(...).',
  ERR_ACTOR_EXISTS: 'An actor with that id already runs on this node.',
  ERR_ACTOR_STOPPED: 'The actor stopped before the message could be handled.',
  ERR_SHUTTING_DOWN: 'The node is shutting down and accepts no new work.',
  ERR_TRANSPORT: 'The NATS connection failed or was closed.',
  ERR_NATS_SERVER_NOT_FOUND: 'No nats-server binary was found for the embedded server.',
  ERR_CONFIG: 'A configuration value or file is invalid.',
  ERR_ALREADY_REPLIED: 'A handler replied twice to the same message.',
  ERR_WORKER_DIED: 'The worker thread running the turn died (exit, out of memory).',
  ERR_TURN_TIMEOUT: 'A turn ran past its time limit: it was aborted, and its worker terminated if it did not yield.',
  ERR_MEMORY_LIMIT: 'The worker running the turn held more memory outside the V8 heap (buffers) than maxWorkerExternalBytes: it was terminated.',
  ERR_INTENSITY: 'A supervisor restarted children more often than its intensity allows: it stopped them and gave up.',
  ERR_UNAVAILABLE: 'No instance of the actor type that serves this subject is running.',
  ERR_BAD_REQUEST: 'A control request is malformed or names an unknown verb.',
  ERR_DENIED: "The capability broker denied the action: the actor's role does not grant it, a deny rule, a reserved subject, its rate limit or budget, or a suspension (details.reason, details.rule).",
  ERR_APPROVAL_REQUIRED: 'The policy says a human must approve this action, and it names no approval chain for it (a budget with onExhausted "approval" and no approvalDefaults).',
  ERR_APPROVAL_PENDING: 'The action waits for a human decision: it was stored as an approval request (details.approvalId) and runs once, if approved; the outcome comes back to the actor as a message.',
  ERR_APPROVAL_NOT_FOUND: 'No approval request or escalation has that id.',
  ERR_APPROVAL_REFUSED: 'A decision was refused: not signed by a person in the policy, an approver without the role, a self-approval, or a different action than the one requested (details.reason).',
  ERR_APPROVAL_DECIDED: 'The request was already decided (or the escalation resolved): this decision is ignored, and recorded.',
  ERR_OUTCOME_UNKNOWN: 'An approved action was claimed by a node that stopped before it recorded how the action ended: it may or may not have taken effect, and it is not performed again.',
  ERR_POLICY: 'A policy is invalid (bad JSON or schema); it was refused and the policy in force stays.',
  ERR_UNKNOWN_TOOL: 'No tool with that name is registered on this node.',
  ERR_TOOL_INPUT: "A tool call's arguments failed the tool's input schema.",
  ERR_TOOL_OUTPUT: "A tool returned a result that breaks its output schema.",
  ERR_TOOL_FAILED: 'A tool threw, or was aborted (its actor suspended or stopped, or the call timed out).',
  ERR_TRACE_LOG: 'A trace log, a file or a stream, is broken (an entry edited, deleted, reordered, malformed or truncated) or cannot be written: nothing more is appended to it.',
  ERR_INTERNAL: 'An unexpected error inside the runtime (a bug): reported, never swallowed.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
