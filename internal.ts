// The deliberate internal entry for tests and tools (`autonomy-os/internal`): pieces of
// the kernel that are not public API and may change without notice.

export { Mailbox } from './runtime/mailbox.js';
export { Subjects, subjectProblem, assertSubject, MAX_SUBJECT_LENGTH } from './runtime/subjects.js';
export { parseAgentId, tokenProblem, agentId, MAX_TOKEN_LENGTH } from './runtime/address.js';
export {
  encodeEnvelope,
  decodeEnvelope,
  envelopeSealed,
  encodeValue,
  decodeValue,
  traceparentOf,
  CT_ENVELOPE,
  CT_JSON,
  CONTENT_TYPE_HEADER,
} from './runtime/envelope.js';
export type { Envelope } from './runtime/envelope.js';
export { newMessageId, newCorrelationId, formatTraceparent, parseTraceparent } from './runtime/ids.js';
export { aosError, fromWire, toAosError } from './runtime/errors/aos-error.js';
export { EmbeddedNats, findNatsServer } from './runtime/transport/embedded-nats.js';
export { ERROR_HEADER } from './runtime/transport/nats-transport.js';
export { shouldRestart, isAbnormal, DEFAULT_DIRECTIVES } from './supervisors/restart-decision.js';
export type { RestartType, ExitReason, FailureKind, Directive } from './supervisors/restart-decision.js';
export { addRestart, EMPTY_WINDOW, DEFAULT_INTENSITY } from './supervisors/intensity.js';
export { nextBackoff, FRESH_BACKOFF, NO_BACKOFF } from './supervisors/backoff.js';
export { Deadlines } from './runtime/deadlines.js';
export { Policy, policyDigest, inScope } from './runtime/broker/policy.js';
export { Broker, deniedError } from './runtime/broker/broker.js';
export { parsePolicyText } from './runtime/broker/policy-schema.js';
export { isSubset, overlaps, tokens } from './runtime/broker/subject-pattern.js';
export { TokenBucket, BudgetCounter } from './runtime/broker/limits.js';
export { GovernanceStore, governanceBucket, POLICY_KEY, SUSPENSIONS_KEY } from './runtime/broker/governance-store.js';
export { CLIENT_HEADER, IDENTITY_HEADERS } from './runtime/inbound.js';
export { canonicalJson } from './runtime/canonical-json.js';
export { LogWriter, GENESIS, formatHead, parseHead, DEFAULT_CHECKPOINT_EVERY } from './runtime/trace/hash-chain.js';
export type { BatchInput, ChainState, HeadMark } from './runtime/trace/hash-chain.js';
export { verifyLog, parseEntry } from './runtime/trace/verify-log.js';
export { verifyFile, PartVerifier } from './runtime/trace/verify-file.js';
export { forEachLine, forEachLineBackward } from './runtime/trace/log-lines.js';
export { answerFileQuery } from './runtime/trace/log-query.js';
export { logFiles } from './runtime/trace/log-segments.js';
export { answerStreamQuery } from './runtime/trace/stream-query.js';
export type { EntryContents, ParsedEntry, VerifyReport, ChainProblem, ProblemKind } from './runtime/trace/verify-log.js';
export { AGE_CHECK_MS, FileLog, verifyLogFile, headPathOf, type FileLogOptions, type SegmentsRemoved } from './runtime/trace/file-log.js';
export { lockPathOf } from './runtime/trace/log-lock.js';
export { decodeTraceBatch, encodeTraceBatch, recordsBatch, TRACE_WIRE_VERSION } from './runtime/trace/trace-codec.js';
export type { DecodedBatch, TraceBatch } from './runtime/trace/trace-codec.js';
export { scanTraceBatch } from './runtime/trace/trace-scan.js';
export { readStream, verifyStream, verifyStreamContents, streamSubject, StreamLog } from './runtime/trace/stream-log.js';
export type { StreamContents, StreamVerifyReport } from './runtime/trace/stream-log.js';
export { TRACE_ANCHOR_TOOL, TRACE_APPEND_TOOL, TRACE_QUERY_TOOL } from './runtime/trace/tracer-tools.js';
export { anchorStream, checkAnchors, readAnchors, type Anchor } from './runtime/trace/trace-anchors.js';
export type { ScannedBatch } from './runtime/trace/trace-scan.js';
export type { TraceRecord, EnvelopeRecord, EnvelopeEvent, GovernanceRecord } from './runtime/trace/records.js';
export { buildCausalTree, chainOf, tail, stats, recordsOfLog, recordsOfEntry, answerQuery, traceQuerySchema, isBatchMark, percentile, DEFAULT_TAIL_LIMIT } from './runtime/trace/trace-query.js';
export type { CausalTree, CausalNode, Handling, TreeEvent, TailFilters, ActorStats, TraceQuery, TraceAnswer, BatchMark } from './runtime/trace/trace-query.js';
export { TRACER_MODULE, TRACER_TYPE } from './actors/index.js';
export { TraceEmitter, SEAL_MS } from './runtime/trace/trace-emitter.js';
export { OWED_MAX_MS, OwedSends } from './runtime/trace/owed-sends.js';
export { remember, wasSeen, SEEN_WINDOW, type Seen } from './runtime/trace/seen-batches.js';
export { RowBytes } from './runtime/trace/row-bytes.js';
export { maskValue, compileMask, recordedValue } from './runtime/trace/payloads.js';
export type { PayloadRecord } from './runtime/trace/payloads.js';
export { checkDecision, checkAct, onTimeout, withHistory } from './runtime/approvals/approval-checks.js';
export { conditionHolds, conditionsHold, valueAt } from './runtime/approvals/approval-rules.js';
export { signBody, verifyBody, publicKeyOf } from './runtime/approvals/approver-keys.js';
export { ApprovalStore, approvalsBucket } from './runtime/approvals/approval-store.js';
export { ORPHAN_CHECK_MS } from './runtime/approvals/approval-service.js';
