/**
 * Custom convict formats. Each one throws a message that reads after the key
 * (`lake.uri: must be file:///absolute/path or oss://bucket/prefix`), never one that repeats a secret:
 * convict appends the offending value only for keys not marked `sensitive`.
 *
 * Coercions never throw: a string that does not parse is handed on unchanged so that the format check
 * reports it against its key, instead of convict failing the whole load without a key.
 */
import convict from 'convict';
import { parseBytes, parseDuration } from '../common/units.js';

type Schema = { env?: string };

function requireThat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

function tryParse(parse: (v: string) => number, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return parse(value);
  } catch {
    return value;
  }
}

function isNonNegativeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Parses the lake location; shared by the format check and the resolver. */
export type LakeLocation = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'oss'; readonly bucket: string; readonly prefix: string };

export function parseLakeUri(uri: string): LakeLocation | null {
  if (uri.startsWith('file://')) {
    const path = decodeURIComponent(uri.slice('file://'.length)).replace(/\/+$/, '');
    return path.startsWith('/') && path.length > 1 ? { kind: 'file', path } : null;
  }
  const m = /^oss:\/\/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) return null;
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((s) => s === '..')) return null;
  return { kind: 'oss', bucket: m[1]!, prefix };
}

const FORMATS: convict.Format[] = [
  {
    name: 'required-string',
    validate(x: unknown, schema: Schema) {
      const where = schema.env ? `set it in the file or through ${schema.env}` : 'set it in the file';
      requireThat(typeof x === 'string' && x.trim() !== '', `is required: ${where}`);
    },
  },
  {
    name: 'optional-string',
    validate(x: unknown) {
      requireThat(typeof x === 'string', 'must be a string');
    },
  },
  {
    name: 'http-url',
    validate(x: unknown, schema: Schema) {
      const where = schema.env ? ` (or ${schema.env})` : '';
      requireThat(typeof x === 'string' && x !== '', `is required: set an http:// or https:// URL in the file${where}`);
      let url: URL | null = null;
      try {
        url = new URL(x as string);
      } catch {
        url = null;
      }
      requireThat(url !== null && (url.protocol === 'http:' || url.protocol === 'https:'), 'must be an http:// or https:// URL');
    },
  },
  {
    name: 'optional-http-url',
    validate(x: unknown) {
      requireThat(typeof x === 'string', 'must be a string');
      if (x === '') return;
      let ok = false;
      try {
        const url = new URL(x as string);
        ok = url.protocol === 'http:' || url.protocol === 'https:';
      } catch {
        ok = false;
      }
      requireThat(ok, 'must be empty or an http:// or https:// URL');
    },
  },
  {
    name: 'lake-uri',
    validate(x: unknown) {
      requireThat(typeof x === 'string' && parseLakeUri(x) !== null, 'must be file:///absolute/path or oss://bucket/prefix');
    },
  },
  {
    name: 'duration-ms',
    validate(x: unknown) {
      requireThat(isNonNegativeInteger(x), 'must be a duration such as 500ms, 30s, 5m, 7d, or a whole number of milliseconds');
    },
    coerce: (v: unknown) => tryParse(parseDuration, v),
  },
  {
    name: 'size-bytes',
    validate(x: unknown) {
      requireThat(isNonNegativeInteger(x) && x > 0, 'must be a size such as 900KiB, 128MiB, or a whole number of bytes > 0');
    },
    coerce: (v: unknown) => tryParse(parseBytes, v),
  },
  {
    name: 'count',
    validate(x: unknown) {
      requireThat(isNonNegativeInteger(x) && x >= 1, 'must be a whole number ≥ 1');
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  },
  {
    name: 'tcp-port',
    validate(x: unknown) {
      requireThat(isNonNegativeInteger(x) && x <= 65535, 'must be a TCP port from 0 to 65535 (0 picks a free port)');
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  },
  {
    name: 'flag',
    validate(x: unknown) {
      requireThat(typeof x === 'boolean', 'must be true or false');
    },
    coerce: (v: unknown) => {
      if (typeof v !== 'string') return v;
      const s = v.trim().toLowerCase();
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      return v;
    },
  },
  {
    // Entries are checked one by one in table-list.ts, which names each problem by its index.
    name: 'table-list',
    validate(x: unknown) {
      requireThat(Array.isArray(x), 'must be a list of tables');
    },
  },
];

let registered = false;

/** Idempotent: convict keeps formats in a module-global registry. */
export function registerConfigFormats(): void {
  if (registered) return;
  for (const f of FORMATS) convict.addFormat(f);
  registered = true;
}

/** A format function for string enums whose message lists the choices the way an operator types them. */
export function oneOf<T extends string>(values: readonly T[]): (x: unknown) => void {
  return (x: unknown) => requireThat(typeof x === 'string' && (values as readonly string[]).includes(x), `must be one of ${values.join(', ')}`);
}
