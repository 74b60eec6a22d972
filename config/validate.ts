/**
 * The one checking machinery for every schema (the top-level keys, a `tables` entry, a declared column):
 * structure first (unknown keys, a scalar where a group belongs), then convict for defaults, environment
 * variables, coercion and each key's format, then resolution to the schema's value type. Every problem
 * is named by its full path (`tables[1].tunnel.type`), and all of them are collected, none thrown.
 */
import convict from 'convict';
import type { ConfigIssue } from './config-error.js';
import { isEmptyNullFormat, registerConfigFormats } from './formats.js';
import { isKeySpec, listKeys, type SchemaNode, type ValuesOf } from './key-spec.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The outcome of checking one object against its schema. */
export interface Checked<N> {
  /**
   * Every key of the schema: the input's value or the default, coerced, empty optional strings as null.
   * A key listed in `invalid` holds whatever the input held: read it only after checking.
   */
  readonly values: ValuesOf<N>;
  /** Keys (relative to the schema, dotted) whose value failed its format. */
  readonly invalid: ReadonlySet<string>;
  /** Keys (relative, dotted; groups too) that the input or the environment set, as opposed to defaults. */
  readonly given: ReadonlySet<string>;
}

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function join(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

/**
 * Unknown keys, and objects where the schema has a group, are found before convict sees the data:
 * convict would report them without a useful message (or crash on a scalar where a group belongs).
 */
function checkStructure(
  raw: Record<string, unknown>,
  node: SchemaNode,
  at: string,
  rel: string,
  issues: ConfigIssue[],
  given: Set<string>,
): Record<string, unknown> {
  const clean: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    const spec = Object.prototype.hasOwnProperty.call(node, name) ? node[name] : undefined;
    if (spec === undefined) {
      issues.push({ key: join(at, name), problem: `unknown key (allowed here: ${Object.keys(node).join(', ')})` });
    } else if (isKeySpec(spec) && isPlainObject(value) && !isPlainObject(spec.default)) {
      // Only a map leaf (an object default, e.g. select.rename) takes an object; convict would merge one
      // into any other default instead of rejecting it.
      issues.push({ key: join(at, name), problem: Array.isArray(spec.default) ? 'must be a list, not an object' : 'must be a single value, not an object' });
    } else if (isKeySpec(spec)) {
      clean[name] = value;
      given.add(join(rel, name));
    } else if (!isPlainObject(value)) {
      issues.push({ key: join(at, name), problem: `must be an object with keys ${Object.keys(spec).join(', ')}` });
    } else {
      given.add(join(rel, name));
      clean[name] = checkStructure(value, spec, join(at, name), join(rel, name), issues, given);
    }
  }
  return clean;
}

const UNDECLARED = /^configuration param '(.+)' (not declared in the schema|missing from config.*)$/;
const INVALID = /^([\w.]+): (.*?)(?:: value was (.*))?$/;

/** convict reports all problems as one message, one line each: `key: problem[: value was X]`. */
function issuesFromConvict(message: string, node: SchemaNode, at: string, env: Env, invalid: Set<string>): ConfigIssue[] {
  const envOf = new Map(listKeys(node).map((k) => [k.key, k.env]));
  const out: ConfigIssue[] = [];
  for (const line of message.split('\n')) {
    const undeclared = UNDECLARED.exec(line);
    const bad = undeclared ? null : INVALID.exec(line);
    if (undeclared) {
      invalid.add(undeclared[1]!);
      out.push({ key: join(at, undeclared[1]!), problem: undeclared[2]!.startsWith('not') ? 'unknown key' : 'must be an object' });
    } else if (bad) {
      const key = bad[1]!;
      invalid.add(key);
      const envName = envOf.get(key);
      const fromEnv = envName && env[envName] !== undefined && !bad[2]!.includes(envName) ? ` (from ${envName})` : '';
      const got = bad[3] === undefined ? '' : `, got ${bad[3]}`;
      out.push({ key: join(at, key), problem: `${bad[2]}${got}${fromEnv}` });
    } else if (line.trim() !== '') {
      out.push({ key: at, problem: line });
    }
  }
  return out;
}

/** Empty strings of "optional" formats become null, so that "not set" has one spelling. */
function resolveLeaves(node: SchemaNode, props: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(node)) {
    const value = props[name];
    if (!isKeySpec(spec)) out[name] = resolveLeaves(spec, isPlainObject(value) ? value : {});
    else if (typeof spec.format === 'string' && isEmptyNullFormat(spec.format) && value === '') out[name] = null;
    else out[name] = value;
  }
  return out;
}

/**
 * Checks `raw` against `schema`; problems go to `issues`, named under `at` ('' for the top level,
 * `tables[1]` for an entry). `env` supplies the keys' environment variables (none for list items).
 */
export function checkObject<N extends SchemaNode>(schema: N, raw: Record<string, unknown>, at: string, issues: ConfigIssue[], env: Env = {}): Checked<N> {
  registerConfigFormats();
  const given = new Set<string>();
  const clean = checkStructure(raw, schema, at, '', issues, given);
  for (const k of listKeys(schema)) if (k.env !== null && env[k.env] !== undefined) given.add(k.key);

  const config = convict<Record<string, unknown>>(schema as never, { env: { ...env }, args: [] });
  config.load(clean);
  const invalid = new Set<string>();
  try {
    config.validate({ allowed: 'strict', output: () => undefined });
  } catch (err) {
    issues.push(...issuesFromConvict((err as Error).message, schema, at, env, invalid));
  }
  // convict has checked every leaf against its format, and FORMATS / Check<T> declare what each format
  // accepts, which is what ValuesOf<N> says (keys in `invalid` excepted, as documented on Checked).
  const values = resolveLeaves(schema, config.getProperties()) as ValuesOf<N>;
  return { values, invalid, given };
}

/** One item of a checked list: its index in the input, and the item checked against the item schema. */
export interface CheckedItem<N> extends Checked<N> {
  readonly index: number;
  /** `tables[1]`: the prefix of this item's problems. */
  readonly at: string;
  /** No problem was found in the item. */
  readonly ok: boolean;
}

/**
 * Checks each item of a list key against the key's `items` schema (the same machinery as the top level),
 * problems named by index. Returns every item that is an object, so that checks across items can still
 * use the keys of an item that are valid (`invalid` says which are not).
 */
export function checkList<N extends SchemaNode>(items: N, value: unknown, at: string, issues: ConfigIssue[]): CheckedItem<N>[] {
  if (!Array.isArray(value)) return [];
  const out: CheckedItem<N>[] = [];
  value.forEach((item, index) => {
    const itemAt = `${at}[${index}]`;
    if (!isPlainObject(item)) {
      issues.push({ key: itemAt, problem: `must be an object with keys ${Object.keys(items).join(', ')}` });
      return;
    }
    const before = issues.length;
    const checked = checkObject(items, item, itemAt, issues);
    out.push({ ...checked, index, at: itemAt, ok: issues.length === before });
  });
  return out;
}
