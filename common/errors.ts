/**
 * The one error catalogue of otslake.
 *
 * Callers branch on `code`, never on class names or `instanceof` for anything that crossed a
 * worker thread (structured clone strips classes and fields; see docs/errors.md). `retriable`
 * drives `withRetry`. `context` carries what an operator needs to act, as fields, never free text.
 */

export const ERROR_CODES = {
  // common
  OTSL_RETRIES_EXHAUSTED: 'an operation kept failing with retriable errors until its retry budget ran out',
  OTSL_ABORTED: 'an operation was cancelled through its AbortSignal (shutdown)',
  OTSL_INTERNAL: 'a bug: an invariant of otslake itself did not hold',
  // config
  OTSL_CONFIG_INVALID: 'the configuration file or environment has a missing, unknown or malformed key',
  // tunnel / tablestore wire
  OTSL_TUNNEL_HTTP: 'the Tablestore endpoint could not be reached or returned a non-protobuf answer',
  OTSL_TUNNEL_TIMEOUT: 'a Tablestore request did not complete within its timeout',
  OTSL_TUNNEL_SERVER: 'the Tablestore/Tunnel server answered with an error code (see serverCode)',
  OTSL_TUNNEL_AUTH: 'the server rejected the credentials or the signature (OTSAuthFailed / OTSPermissionDenied)',
  OTSL_TUNNEL_SEQUENCE_MISMATCH: 'a Tunnel checkpoint was rejected because its sequence number is stale (OTSSequenceNumberNotMatch)',
  OTSL_TUNNEL_RESOURCE_GONE: 'the Tunnel client or channel is no longer valid (OTSResourceGone), reconnect',
  OTSL_TUNNEL_PROTOCOL: 'a Tunnel message could not be encoded or decoded',
  OTSL_TUNNEL_CHANNEL_STATE: 'an illegal channel state transition was requested',
  OTSL_DECODE_CORRUPT_RECORD: 'a PlainBuffer record is truncated, malformed or fails its CRC-8 check',
  OTSL_DECODE_TOKEN: 'a Tunnel token is not base64(Token) with a known version',
  // lake
  OTSL_LAKE_ALREADY_EXISTS: 'put-if-absent found the object already there',
  OTSL_LAKE_NOT_FOUND: 'the object does not exist',
  OTSL_LAKE_IO: 'the object store failed (filesystem or OSS error)',
  OTSL_LAKE_URI_INVALID: 'a lake URI is neither file:// nor oss://bucket/prefix',
  OTSL_LAKE_KEY_INVALID: 'an object key is empty, absolute, or has empty, "." or ".." segments',
  OTSL_LAKE_RANGE_INVALID: 'a ranged read starts at or beyond the end of the object',
  OTSL_LAKE_NOT_A_TABLE: 'no Delta log found at the table location',
  OTSL_LAKE_LOG_CORRUPT: 'the Delta log is unreadable: bad JSON, missing versions, missing protocol or metadata',
  OTSL_LAKE_UNSUPPORTED_FEATURE: 'the table uses a Delta reader/writer feature otslake does not support',
  OTSL_LAKE_FENCED: 'a channel task could not claim an offset entry: another daemon is writing the same channel',
  OTSL_LAKE_SCHEMA: 'a value or column does not fit the table schema',
  OTSL_PARQUET_WRITE: 'encoding a Parquet file failed',
  OTSL_PARQUET_READ: 'decoding a Parquet file failed',
  OTSL_ICEBERG_WRITE: 'the Iceberg metadata of a table could not be written (encoding, or too many lost races)',
  OTSL_ICEBERG_CORRUPT: 'the Iceberg metadata under a table is unreadable or does not match its Delta log',
  // workers / daemon
  OTSL_WORKER_CRASHED: 'a worker thread died or threw an unexpected error while running a channel task',
  OTSL_DAEMON_STATE: 'the daemon was asked to do something its current state forbids',
  OTSL_TABLE_COLUMN_CONFLICT: "a column of the source table has the name of one of the table's metadata columns (tables[].metadataPrefix)",
  OTSL_TUNNEL_LOST: "the tunnel the table's lake positions belong to is gone or expired: the changes since the lake's positions cannot be read",
  OTSL_TUNNEL_LAKE_MISMATCH:
    'the lake and the tunnel of a table do not belong together (an empty lake on a tunnel with progress, or a lake bound to another tunnel)',
  OTSL_NOT_CAUGHT_UP: 'run --until-idle: a table was not caught up within --idle-timeout (failing, or waiting for a departed client)',
  OTSL_HTTP_LISTEN: 'the HTTP endpoints could not listen on http.host:http.port (address in use, no permission)',
  // emulator
  OTSL_EMULATOR: 'the emulator could not start or was misused',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorContext {
  table?: string;
  tunnelId?: string;
  channelId?: string;
  batchId?: string;
  token?: string;
  file?: string;
  version?: number;
  recordIndex?: number;
  byteOffset?: number;
  key?: string;
  uri?: string;
  rpc?: string;
  requestId?: string;
  attempts?: number;
  [extra: string]: string | number | boolean | undefined;
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
  retriable: boolean;
  context: ErrorContext;
  stack?: string;
  cause?: SerializedError | { message: string };
}

export interface OtslakeErrorOptions {
  cause?: unknown;
  retriable?: boolean;
  context?: ErrorContext;
}

export class OtslakeError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: OtslakeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OtslakeError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }

  /** Plain data that survives structured clone and never holds secrets. */
  toSerialized(): SerializedError {
    return serializeError(this);
  }
}

export function isOtslakeError(err: unknown): err is OtslakeError {
  return err instanceof OtslakeError;
}

/**
 * Any thrown value as an OtslakeError: itself when it is one, else OTSL_INTERNAL (something threw
 * that no layer named: a bug) with the original as `cause`, and `context` added.
 */
export function toOtslakeError(err: unknown, context: ErrorContext = {}): OtslakeError {
  if (err instanceof OtslakeError) {
    return Object.keys(context).length === 0
      ? err
      : new OtslakeError(err.code, err.message, { cause: err.cause, retriable: err.retriable, context: { ...context, ...err.context } });
  }
  return new OtslakeError('OTSL_INTERNAL', err instanceof Error ? err.message : String(err), { cause: err, context });
}

export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof OtslakeError) {
    const out: SerializedError = {
      code: err.code,
      message: err.message,
      retriable: err.retriable,
      context: { ...err.context },
    };
    if (err.stack !== undefined) out.stack = err.stack;
    if (err.cause !== undefined) out.cause = causeOf(err.cause);
    return out;
  }
  const message = err instanceof Error ? err.message : String(err);
  const out: SerializedError = { code: 'OTSL_INTERNAL', message, retriable: false, context: {} };
  if (err instanceof Error && err.stack !== undefined) out.stack = err.stack;
  return out;
}

function causeOf(cause: unknown): SerializedError | { message: string } {
  if (cause instanceof OtslakeError) return serializeError(cause);
  return { message: cause instanceof Error ? cause.message : String(cause) };
}

/** Rebuilds an error that crossed a thread or process boundary as data. */
export function deserializeError(data: SerializedError): OtslakeError {
  const err = new OtslakeError(data.code, data.message, {
    retriable: data.retriable,
    context: data.context,
    ...(data.cause ? { cause: new Error(data.cause.message) } : {}),
  });
  if (data.stack !== undefined) err.stack = data.stack;
  return err;
}

/**
 * Errors that no wait will cure: the configuration (credentials among it) or the lake's table
 * contradicts what the daemon must do, or otslake itself is wrong. The daemon exits on these instead of
 * retrying; everything else (endpoints down, the lake refusing writes, throttling) is an outage it
 * waits out with backoff. An exhausted retry is judged by its cause.
 */
export function isConfigurationError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (code === 'OTSL_RETRIES_EXHAUSTED') return isConfigurationError((err as { cause?: unknown }).cause);
  if (code === 'OTSL_TUNNEL_SERVER') return CONFIGURATION_SERVER_CODES.has(String((err as OtslakeError).context?.serverCode));
  if (typeof code === 'string' && code.startsWith('OTSL_')) return CONFIGURATION_CODES.has(code);
  return isProgrammerError(err);
}

/** Server answers that name the request as wrong: a table or tunnel that is not there, a bad parameter. */
const CONFIGURATION_SERVER_CODES: ReadonlySet<string> = new Set(['OTSParameterInvalid', 'OTSObjectNotExist', 'OTSTunnelExpired']);

const CONFIGURATION_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'OTSL_CONFIG_INVALID',
  'OTSL_TUNNEL_AUTH',
  'OTSL_LAKE_URI_INVALID',
  'OTSL_LAKE_UNSUPPORTED_FEATURE',
  'OTSL_LAKE_SCHEMA',
  'OTSL_INTERNAL',
  'OTSL_DAEMON_STATE',
]);

/**
 * Errors that stop one table and no other: what is wrong lies in that table alone (its source columns, its
 * tunnel, its lake), so the daemon's other tables go on. The table shows as `stopped` with the error until
 * the operator acts (docs/errors.md names the fix of each).
 */
const TABLE_STOP_CODES: ReadonlySet<string> = new Set<ErrorCode>(['OTSL_TABLE_COLUMN_CONFLICT', 'OTSL_TUNNEL_LOST', 'OTSL_TUNNEL_LAKE_MISMATCH']);

export function isTableStopError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (code === 'OTSL_RETRIES_EXHAUSTED') return isTableStopError((err as { cause?: unknown }).cause);
  return typeof code === 'string' && TABLE_STOP_CODES.has(code);
}

/** Programmer errors are never retried, whatever else says. */
export function isProgrammerError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError;
}
