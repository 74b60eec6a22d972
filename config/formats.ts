/**
 * The value formats of the schema: each one's check, its coercion from a string, and the TypeScript type
 * a value of that format resolves to (config/key-spec.ts derives ResolvedConfig from these).
 *
 * Each check throws a message that reads after the key (`lake.uri: must be file:///absolute/path or
 * oss://bucket/prefix`), never one that repeats a secret: convict appends the offending value only for
 * keys not marked `sensitive`.
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

const wholeNumber = (v: unknown) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v);

/**
 * No setting has meaningful surrounding whitespace, and a stray one is a classic: a CR left by an env
 * file with Windows line endings, or a space after a pasted key. Kept as-is it fails much later with a
 * misleading error (a signature mismatch, a protocol error); named here it is a one-line fix.
 */
export function strayWhitespaceIn(x: string): string | null {
  if (x.endsWith('\r')) return 'ends with a carriage return (\\r), as lines of a file with Windows line endings do: remove it';
  if (/[\r\n]/.test(x)) return 'contains a line break: remove it';
  if (x.trim() !== x) return 'has leading or trailing whitespace: remove it';
  return null;
}

function requireString(x: unknown): asserts x is string {
  requireThat(typeof x === 'string', 'must be a string');
  const stray = strayWhitespaceIn(x as string);
  if (stray !== null) throw new Error(stray);
}

function isHttpUrl(x: string): boolean {
  try {
    const url = new URL(x);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
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

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.=-]*$/;

/** A table folder under lake.uri, or why not. Also applied to the default (the table name) by table-list.ts. */
export function tablePathProblem(value: string): string | null {
  if (value.startsWith('/')) return 'must be relative to lake.uri (no leading "/")';
  const bad = value
    .replace(/\/+$/, '')
    .split('/')
    .find((s) => !PATH_SEGMENT.test(s));
  if (bad === undefined) return null;
  return `segment "${bad}" is not allowed: use letters, digits, "_", "-", ".", "=", not starting with "_" or "." (Delta and vacuum treat those as hidden)`;
}

/**
 * One registered format. `T` is what a value of the format resolves to; it exists only in the type
 * (config/key-spec.ts reads it), so that the resolved config's type cannot drift from its checks.
 * `emptyIsNull`: the empty string means "not set" and resolves to null.
 */
interface FormatDef<T> {
  validate(x: unknown, schema: Schema): void;
  coerce?: (v: unknown) => unknown;
  emptyIsNull?: true;
  /** Phantom: never set. */
  readonly resolvesTo?: T;
}

function format<T>(def: FormatDef<T>): FormatDef<T> {
  return def;
}

export const FORMATS = {
  'required-string': format<string>({
    validate(x, schema) {
      const where = schema.env ? `set it in the file or through ${schema.env}` : 'set it in the file';
      requireThat(typeof x === 'string' && x !== '', `is required: ${where}`);
      requireString(x);
    },
  }),
  'optional-string': format<string | null>({
    validate: (x) => requireString(x),
    emptyIsNull: true,
  }),
  'http-url': format<string>({
    validate(x, schema) {
      const where = schema.env ? ` (or ${schema.env})` : '';
      requireThat(typeof x === 'string' && x !== '', `is required: set an http:// or https:// URL in the file${where}`);
      requireString(x);
      requireThat(isHttpUrl(x as string), 'must be an http:// or https:// URL');
    },
  }),
  'optional-http-url': format<string | null>({
    validate(x) {
      requireString(x);
      requireThat(x === '' || isHttpUrl(x as string), 'must be empty or an http:// or https:// URL');
    },
    emptyIsNull: true,
  }),
  'lake-uri': format<string>({
    validate(x) {
      requireString(x);
      requireThat(parseLakeUri(x as string) !== null, 'must be file:///absolute/path or oss://bucket/prefix');
    },
  }),
  'duration-ms': format<number>({
    validate: (x) => requireThat(isNonNegativeInteger(x), 'must be a duration such as 500ms, 30s, 5m, 7d, or a whole number of milliseconds'),
    coerce: (v) => tryParse(parseDuration, v),
  }),
  'size-bytes': format<number>({
    validate: (x) => requireThat(isNonNegativeInteger(x) && x > 0, 'must be a size such as 900KiB, 128MiB, or a whole number of bytes > 0'),
    coerce: (v) => tryParse(parseBytes, v),
  }),
  /** A data file's size: below 1KiB a file is mostly footer. */
  'file-size': format<number>({
    validate: (x) => requireThat(isNonNegativeInteger(x) && x >= 1024, 'must be a size of at least 1KiB, e.g. "8MiB"'),
    coerce: (v) => tryParse(parseBytes, v),
  }),
  count: format<number>({
    validate: (x) => requireThat(isNonNegativeInteger(x) && x >= 1, 'must be a whole number ≥ 1'),
    coerce: wholeNumber,
  }),
  'tcp-port': format<number>({
    validate: (x) => requireThat(isNonNegativeInteger(x) && x <= 65535, 'must be a TCP port from 0 to 65535 (0 picks a free port)'),
    coerce: wholeNumber,
  }),
  flag: format<boolean>({
    validate: (x) => requireThat(typeof x === 'boolean', 'must be true or false'),
    coerce: (v) => {
      if (typeof v !== 'string') return v;
      const s = v.trim().toLowerCase();
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      return v;
    },
  }),
  /**
   * A list whose items are objects described by the key's `items` schema. convict checks only that it
   * is a list; each item is then checked with its own schema (config/validate.ts checkList), which
   * names every problem by its index (`tables[1].mode`).
   */
  list: format<readonly unknown[]>({
    validate: (x) => requireThat(Array.isArray(x), 'must be a list'),
  }),
  'name-list': format<readonly string[]>({
    validate(x) {
      requireThat(Array.isArray(x) && x.every((v) => typeof v === 'string' && v !== ''), 'must be a list of column names');
      for (const v of x as string[]) {
        const stray = strayWhitespaceIn(v);
        if (stray !== null) throw new Error(`"${v.trim()}" ${stray}`);
      }
    },
  }),
  /** tables[].select.rename: an object of source column name → lake column name, both non-empty. */
  'column-renames': format<Readonly<Record<string, string>>>({
    validate(x) {
      requireThat(typeof x === 'object' && x !== null && !Array.isArray(x), 'must be an object of source column name: lake column name');
      for (const [from, to] of Object.entries(x as Record<string, unknown>)) {
        requireThat(from !== '', 'has an empty source column name');
        requireThat(typeof to === 'string' && to !== '', `"${from}" must map to a column name`);
        const stray = strayWhitespaceIn(from) ?? strayWhitespaceIn(to as string);
        if (stray !== null) throw new Error(`"${from}": "${String(to)}" ${stray}`);
      }
    },
  }),
  'table-name': format<string>({
    validate(x) {
      requireThat(typeof x === 'string' && x !== '', 'is required');
      requireThat(TABLE_NAME.test(x as string), 'must be a Tablestore table name: letters, digits and "_", not starting with a digit');
    },
  }),
  /** Empty: the default, the table's name (checked against the same rule once it is known). */
  'table-path': format<string | null>({
    validate(x) {
      requireString(x);
      const problem = x === '' ? null : tablePathProblem(x as string);
      if (problem !== null) throw new Error(problem);
    },
    emptyIsNull: true,
  }),
  /** A prefix of Delta column names (tables[].metadataPrefix). */
  'metadata-prefix': format<string>({
    validate(x) {
      requireString(x);
      requireThat(
        /^[A-Za-z_][A-Za-z0-9_]{0,31}$/.test(x as string),
        'must be 1 to 32 letters, digits or "_", not starting with a digit, e.g. "_" or "otslake_"',
      );
    },
  }),
  'column-name': format<string>({
    validate(x) {
      requireThat(typeof x === 'string' && x !== '', 'is required: the column name');
      requireString(x);
    },
  }),
} as const;

export type FormatName = keyof typeof FORMATS;

/** What a value of each registered format resolves to. */
export type FormatTypes = { [F in FormatName]: (typeof FORMATS)[F] extends FormatDef<infer T> ? T : never };

export function isEmptyNullFormat(name: FormatName): boolean {
  const def: FormatDef<unknown> = FORMATS[name];
  return def.emptyIsNull === true;
}

let registered = false;

/** Idempotent: convict keeps formats in a module-global registry. */
export function registerConfigFormats(): void {
  if (registered) return;
  for (const [name, def] of Object.entries(FORMATS) as [string, FormatDef<unknown>][]) {
    convict.addFormat({ name, validate: def.validate, ...(def.coerce ? { coerce: def.coerce } : {}) });
  }
  registered = true;
}

declare const RESOLVES_TO: unique symbol;

/** A format given as a check function (not registered by name); `T` is what the value resolves to. */
export type Check<T> = ((x: unknown) => void) & { readonly [RESOLVES_TO]?: T };

/** A check for string enums whose message lists the choices the way an operator types them. */
export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (x: unknown) => {
    requireThat(x !== '', `is required: one of ${values.join(', ')}`);
    requireThat(typeof x === 'string' && (values as readonly string[]).includes(x), `must be one of ${values.join(', ')}`);
  };
}

/** A check for a whole number in [min, max]. */
export function integerIn(min: number, max: number): Check<number> {
  return (x: unknown) => requireThat(typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max, `must be an integer in ${min}..${max}`);
}
