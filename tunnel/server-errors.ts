/**
 * The table that turns a Tablestore/Tunnel server error code into an otslake error code and a retry
 * decision (docs/tunnel-protocol.md §Errors and retries). Kept as data so the policy is readable in one place.
 */
import { hasCode, OtslakeError, type ErrorCode, type ErrorContext } from '../common/errors.js';

const AUTH_CODES = new Set(['OTSAuthFailed', 'OTSPermissionDenied', 'OTSNoPermissionAccess', 'OTSInvalidSTSToken']);

/** The server refused before doing anything: safe to retry even a non-idempotent RPC (Java retries these for any action). */
const NOT_APPLIED_CODES = new Set([
  'OTSServerBusy',
  'OTSNotEnoughCapacityUnit',
  'OTSPartitionUnavailable',
  'OTSTableNotReady',
  'OTSRowOperationConflict',
  'OTSQuotaExhausted',
]);

/** The outcome is unknown: retry only idempotent RPCs. */
const UNKNOWN_OUTCOME_CODES = new Set(['OTSTunnelServerUnavailable', 'OTSTimeout', 'OTSInternalServerError', 'OTSServerUnavailable']);

export interface ServerErrorClass {
  code: ErrorCode;
  retriable: boolean;
}

export function classifyServerError(serverCode: string, httpStatus: number, idempotent: boolean): ServerErrorClass {
  if (AUTH_CODES.has(serverCode)) return { code: 'OTSL_TUNNEL_AUTH', retriable: false };
  if (serverCode === 'OTSSequenceNumberNotMatch') return { code: 'OTSL_TUNNEL_SEQUENCE_MISMATCH', retriable: false };
  if (serverCode === 'OTSResourceGone') return { code: 'OTSL_TUNNEL_RESOURCE_GONE', retriable: false };
  if (NOT_APPLIED_CODES.has(serverCode)) return { code: 'OTSL_TUNNEL_SERVER', retriable: true };
  if (UNKNOWN_OUTCOME_CODES.has(serverCode) || httpStatus >= 500) return { code: 'OTSL_TUNNEL_SERVER', retriable: idempotent };
  return { code: 'OTSL_TUNNEL_SERVER', retriable: false };
}

/** Codes that stop a Tunnel worker for good instead of reconnecting (Go daemon.isTunnelInvalid, Java isTunnelInvalid). */
export function isFatalTunnelCode(serverCode: string | undefined): boolean {
  return serverCode === 'OTSParameterInvalid' || serverCode === 'OTSTunnelExpired' || serverCode === 'OTSPermissionDenied' || serverCode === 'OTSAuthFailed';
}

/** Socket errors after the request was sent: the server may or may not have applied it. */
export function isRetriableNetworkCode(code: string): boolean {
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'UND_ERR_SOCKET' || code === 'UNKNOWN';
}

/**
 * Node refused to send a header: a credential holds a character HTTP forbids, most often the CR of an
 * env file with Windows line endings. No server saw the request; retrying cannot help.
 */
export function credentialCharacterError(what: string, detail: string, context: ErrorContext): OtslakeError {
  return new OtslakeError(
    'OTSL_TUNNEL_AUTH',
    `${what}: a credential contains a character not allowed in an HTTP header (a CR from Windows line endings, a control character); fix source.accessKeyId / source.securityToken: ${detail}`,
    { retriable: false, context },
  );
}

/**
 * A channel call (ReadRecords, GetCheckpoint, Checkpoint) was refused because this client no longer
 * owns the channel: it was shut down, missed its heartbeat timeout, or the channel moved to another
 * client (OTSResourceGone). The channel's work in progress is to be dropped, not retried: its new
 * owner resumes from the position in force, and the session's next heartbeat settles what we hold.
 */
export function isChannelLost(err: unknown): boolean {
  return hasCode(err, 'OTSL_TUNNEL_RESOURCE_GONE');
}
