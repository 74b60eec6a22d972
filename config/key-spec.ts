/**
 * The shape of a schema (config/schema.ts, config/table-entry-schema.ts) and the type it resolves to.
 *
 * A schema is a tree of groups whose leaves are KeySpecs. Each leaf's `format` says both how its value
 * is checked and what TypeScript type it resolves to (formats.ts FormatTypes, or the `T` of a
 * Check<T> such as oneOf(values)), so `ValuesOf<typeof SCHEMA>` is the resolved type of a schema:
 * the config's type is derived from the schema, never written beside it.
 */
import { FORMATS, isEmptyNullFormat, type Check, type FormatName, type FormatTypes } from './formats.js';

/** One leaf of the schema, as convict reads it. */
export interface KeySpec {
  doc: string;
  /** A registered format name, or a Check<T> (oneOf, integerIn). */
  format: FormatName | Check<unknown>;
  /** What an absent key takes. An empty string that the format rejects makes the key required. */
  default: unknown;
  env?: string;
  sensitive?: boolean;
  /** Shown in docs instead of `default` when the default depends on the machine or on another key. */
  defaultText?: string;
  /** format 'list': the schema each item is checked against (config/validate.ts checkList). */
  items?: SchemaNode;
}

export interface SchemaNode {
  [name: string]: KeySpec | SchemaNode;
}

export function isKeySpec(node: KeySpec | SchemaNode): node is KeySpec {
  return Object.prototype.hasOwnProperty.call(node, 'default');
}

/** The resolved type of one leaf. */
export type ValueOf<S> = S extends { readonly format: infer F } ? (F extends FormatName ? FormatTypes[F] : F extends Check<infer T> ? T : never) : never;

/** The resolved type of a schema node: groups stay groups, leaves become their format's type. */
export type ValuesOf<N> = { readonly [K in keyof N]: N[K] extends { readonly default: unknown } ? ValueOf<N[K]> : ValuesOf<N[K]> };

/** The resolved type of one item of a list key (`items` schema). */
export type ItemOf<S> = S extends { readonly items: infer I } ? ValuesOf<I> : never;

export interface KeyDescription {
  key: string;
  doc: string;
  default: unknown;
  defaultText: string | null;
  /** The registered format name, or 'check' for a Check function. */
  format: string;
  env: string | null;
  sensitive: boolean;
  /** The default is empty and the format rejects empty: the key must be set. */
  required: boolean;
  /** The item schema of a list key. */
  items: SchemaNode | null;
}

function isRequired(spec: KeySpec): boolean {
  if (spec.default !== '') return false;
  if (typeof spec.format !== 'string') return true;
  if (isEmptyNullFormat(spec.format)) return false;
  try {
    FORMATS[spec.format].validate('', spec);
    return false;
  } catch {
    return true;
  }
}

/** Every leaf key in schema order, with dotted paths. */
export function listKeys(node: SchemaNode, prefix = ''): KeyDescription[] {
  const out: KeyDescription[] = [];
  for (const [name, child] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isKeySpec(child)) {
      out.push({
        key,
        doc: child.doc,
        default: child.default,
        defaultText: child.defaultText ?? null,
        format: typeof child.format === 'string' ? child.format : 'check',
        env: child.env ?? null,
        sensitive: child.sensitive === true,
        required: isRequired(child),
        items: child.items ?? null,
      });
    } else {
      out.push(...listKeys(child, key));
    }
  }
  return out;
}
