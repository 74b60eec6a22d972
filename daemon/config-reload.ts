/**
 * What a config reload (SIGHUP, `systemctl reload otslake`) changes: the `tables` entries, matched by their
 * folder (`path`, unique per config). An entry only in the new config starts, one only in the old stops (after
 * its in-flight batch, handing its channels back), one whose settings differ restarts; the others run on
 * untouched. Keys outside `tables` take effect at the next restart (docs/operations.md §Table lifecycle).
 */
import type { ResolvedConfig, TableConfig } from '../config/load.js';

export interface ReloadPlan {
  readonly added: readonly TableConfig[];
  readonly removed: readonly TableConfig[];
  /** Same folder, other settings: stopped, then started with the new entry. */
  readonly changed: readonly { readonly before: TableConfig; readonly after: TableConfig }[];
  /** Top-level keys (other than tables) whose value differs: applied at the next restart only. */
  readonly restartOnly: readonly string[];
}

export function planReload(current: ResolvedConfig, next: ResolvedConfig, running: readonly TableConfig[]): ReloadPlan {
  const before = new Map(running.map((t) => [t.path, t]));
  const after = new Map(next.tables.map((t) => [t.path, t]));
  const same = (a: TableConfig, b: TableConfig) => JSON.stringify(a) === JSON.stringify(b);
  const restartOnly = (Object.keys(next) as (keyof ResolvedConfig)[]).filter((k) => k !== 'tables' && JSON.stringify(current[k]) !== JSON.stringify(next[k]));
  return {
    added: next.tables.filter((t) => !before.has(t.path)),
    removed: running.filter((t) => !after.has(t.path)),
    changed: running.flatMap((b) => {
      const a = after.get(b.path);
      return a !== undefined && !same(a, b) ? [{ before: b, after: a }] : [];
    }),
    restartOnly,
  };
}
