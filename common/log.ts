/**
 * Structured JSON logging: a constant message plus fields, one JSON object per line.
 * Secrets are redacted by key name wherever they appear in the fields, so a config or an
 * error context can be logged without thinking about it.
 */
import { OtslakeError, serializeError } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

const SECRET_KEYS = /^(accesskeysecret|secret|securitytoken|ststoken|stsToken|password|authorization|x-ots-signature|x-ots-ststoken)$/i;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stderr so that stdout stays free for CLI output. */
  write?: (line: string) => void;
  bindings?: LogFields;
}

function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (value instanceof Error) {
    return serializeError(value instanceof OtslakeError ? value : value);
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.test(k) && v !== undefined && v !== '' ? '[Redacted]' : redact(v, depth + 1);
  }
  return out;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const bindings = options.bindings ?? {};
  const threshold = LEVELS[level];

  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < threshold) return;
    const record = { time: new Date().toISOString(), level: lvl, msg, ...(redact({ ...bindings, ...fields }) as object) };
    write(JSON.stringify(record));
  };

  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (more) => createLogger({ level, write, bindings: { ...bindings, ...more } }),
  };
}

/** A logger that drops everything; the default for library code and tests. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
