/**
 * `tables[].select` (include, exclude, rename): which source columns land and under which names, checked
 * offline against the rest of the entry (docs/changelog.md §Column selection and renaming). Source names are
 * Tablestore's (case-sensitive); lake names are Delta's (case-insensitive), so lake names are compared
 * without case. `columns` and `partitionBy` name lake columns. What only Tablestore knows — which columns
 * form the primary key — is checked when the table starts (pipeline/table-schema.ts checkKeyNames).
 */
import { reservedColumnNames } from '../common/metadata-columns.js';
import type { ConfigIssue } from './config-error.js';

/** The resolved `select` of a table; all empty = every column under its own name. */
export interface ColumnSelectionConfig {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly rename: Readonly<Record<string, string>>;
}

export const NO_SELECTION: ColumnSelectionConfig = { include: [], exclude: [], rename: {} };

export function isIdentitySelection(s: ColumnSelectionConfig): boolean {
  return s.include.length === 0 && s.exclude.length === 0 && Object.keys(s.rename).length === 0;
}

/**
 * The lake name a source column lands under: its rename, else itself; null when the selection leaves it out.
 * `keep` are names that always land (the primary key, once known).
 */
export function lakeNameOf(s: ColumnSelectionConfig, source: string, keep: ReadonlySet<string> = new Set()): string | null {
  if (!keep.has(source)) {
    if (s.include.length > 0 && !s.include.includes(source)) return null;
    if (s.exclude.includes(source)) return null;
  }
  return Object.prototype.hasOwnProperty.call(s.rename, source) ? s.rename[source]! : source;
}

const lower = (s: string) => s.toLowerCase();

function checkList(names: readonly string[], key: string, issues: ConfigIssue[]): void {
  names.forEach((name, j) => {
    if (names.indexOf(name) !== j) issues.push({ key: `${key}[${j}]`, problem: `"${name}" is listed twice` });
  });
}

function checkRenames(s: ColumnSelectionConfig, prefix: string, at: string, issues: ConfigIssue[]): void {
  const reserved = reservedColumnNames(prefix);
  const targets = new Map<string, string>();
  for (const [source, target] of Object.entries(s.rename)) {
    const key = `${at}.rename.${source}`;
    const metadata = reserved.find((r) => lower(r) === lower(target));
    const earlier = targets.get(lower(target));
    const ownName = s.include.find((n) => lower(n) === lower(target) && n !== source && !Object.prototype.hasOwnProperty.call(s.rename, n));
    if (target === source) issues.push({ key, problem: `renames "${source}" to itself` });
    else if (metadata !== undefined)
      issues.push({ key, problem: `"${target}" is the metadata column "${metadata}" (Delta names ignore case); pick another name or set metadataPrefix` });
    else if (earlier !== undefined) issues.push({ key, problem: `"${target}" is already the lake name of "${earlier}" (Delta names ignore case)` });
    else if (ownName !== undefined)
      issues.push({ key, problem: `"${target}" is the lake name of the included column "${ownName}", which lands under its own name` });
    else targets.set(lower(target), source);
    if (s.exclude.includes(source)) issues.push({ key, problem: `"${source}" is excluded in ${at}.exclude: renaming it has no effect` });
    else if (s.include.length > 0 && !s.include.includes(source))
      issues.push({ key, problem: `"${source}" is not in ${at}.include: list the source name there to land it renamed` });
  }
}

/**
 * Include and exclude lists (no duplicates, not both), renames (see checkRenames), and the declared columns
 * (`columns[].name`, lake names) against them: a declared column must land, under the name it is declared with.
 */
export function checkSelection(
  s: ColumnSelectionConfig,
  declared: readonly { name: string }[],
  prefix: string,
  at: string,
  issues: ConfigIssue[],
): ColumnSelectionConfig {
  const selectAt = `${at}.select`;
  checkList(s.include, `${selectAt}.include`, issues);
  checkList(s.exclude, `${selectAt}.exclude`, issues);
  if (s.include.length > 0 && s.exclude.length > 0)
    issues.push({ key: `${selectAt}.exclude`, problem: 'set include or exclude, not both (include lands only what it lists)' });
  const reserved = new Set(reservedColumnNames(prefix).map(lower));
  s.include.forEach((name, j) => {
    if (reserved.has(lower(name)) && !Object.prototype.hasOwnProperty.call(s.rename, name))
      issues.push({
        key: `${selectAt}.include[${j}]`,
        problem: `"${name}" is named like a metadata column: rename it in ${selectAt}.rename or set metadataPrefix`,
      });
  });
  checkRenames(s, prefix, selectAt, issues);
  const sourceOf = new Map(Object.entries(s.rename).map(([source, target]) => [target, source]));
  declared.forEach((c, j) => {
    const key = `${at}.columns[${j}].name`;
    const source = sourceOf.get(c.name);
    if (source === undefined && Object.prototype.hasOwnProperty.call(s.rename, c.name))
      issues.push({ key, problem: `"${c.name}" is renamed to "${s.rename[c.name]}" by ${selectAt}.rename: declare the lake name "${s.rename[c.name]}"` });
    else if (lakeNameOf(s, source ?? c.name) === null)
      issues.push({ key, problem: `"${c.name}" is left out by ${selectAt}.${s.include.length > 0 ? 'include' : 'exclude'}: a declared column must land` });
  });
  return s;
}
