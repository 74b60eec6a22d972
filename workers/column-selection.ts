/**
 * A table's column selection as a channel task applies it (tables[].select; docs/changelog.md §Column selection
 * and renaming): which source column lands under which lake name, and which is left out. The decoder hands the
 * sinks source names; BatchSchema resolves them to column slots through this (workers/schema-map.ts), caching
 * every answer, so a left-out column costs one map lookup per cell and is never decoded into a builder.
 */
import type { ColumnSelectionSpec } from './protocol.js';

/** A source column that cannot land: its name is the lake name another source column is renamed to. */
export const TAKEN = Symbol('taken');

/** Where a source column goes: its lake name, null (left out), or TAKEN. */
export type Route = string | null | typeof TAKEN;

export class ColumnSelection {
  private readonly include: ReadonlySet<string> | null;
  private readonly exclude: ReadonlySet<string>;
  private readonly rename: ReadonlyMap<string, string>;
  /** Lake name → the source renamed to it. */
  private readonly renamedFrom: ReadonlyMap<string, string>;

  private constructor(spec: ColumnSelectionSpec) {
    this.include = spec.include !== undefined && spec.include.length > 0 ? new Set(spec.include) : null;
    this.exclude = new Set(spec.exclude ?? []);
    this.rename = new Map(Object.entries(spec.rename ?? {}));
    this.renamedFrom = new Map([...this.rename].map(([source, lake]) => [lake, source]));
  }

  /** The selection of a task, or null when it lands every column under its own name (then nothing is looked up). */
  static of(spec: ColumnSelectionSpec | undefined): ColumnSelection | null {
    if (spec === undefined) return null;
    const empty = (spec.include ?? []).length === 0 && (spec.exclude ?? []).length === 0 && Object.keys(spec.rename ?? {}).length === 0;
    return empty ? null : new ColumnSelection(spec);
  }

  route(source: string): Route {
    if (this.include !== null ? !this.include.has(source) : this.exclude.has(source)) return null;
    const renamed = this.rename.get(source);
    if (renamed !== undefined) return renamed;
    return this.renamedFrom.has(source) ? TAKEN : source;
  }

  /** The source name that lands as `lake`, if any: the one renamed to it, else `lake` itself when it lands under its own name. */
  sourcesOf(lake: string): string[] {
    const out: string[] = [];
    const from = this.renamedFrom.get(lake);
    if (from !== undefined && this.route(from) === lake) out.push(from);
    if (this.route(lake) === lake) out.push(lake);
    return out;
  }
}
