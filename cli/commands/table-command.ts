/**
 * What `inspect`, `compact` and `vacuum` share: one table URI argument, options, and the same exit
 * codes — 2 for a usage mistake (bad flag, bad option value), 1 for a lake error (its code and
 * message on stderr), 0 otherwise — with the table's store always closed.
 */
import { parseCommandArgs, type ArgSpec } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { loadLakeConnection } from '../../config/load.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { openLakeStore } from '../../lake/store.js';

/** Thrown by a command body for a bad option value: exit code 2 with the usage line. */
export class UsageError extends Error {}

/**
 * The table at `uri` (file:///abs, a plain local path, or oss://bucket/prefix). For oss:// the
 * connection comes from the same settings the daemon uses: `lake.oss.*` of `--config FILE` and the
 * OTSLAKE_LAKE_OSS_* variables, checked by the same rules (a missing endpoint or key is named).
 */
function openTableStore(uri: string, configPath: string | undefined): ObjectStore {
  return openLakeStore(loadLakeConnection(uri, configPath === undefined ? {} : { configPath }));
}

type Values<S extends ArgSpec> = ReturnType<typeof parseCommandArgs<S>>['values'];

export interface TableCommand<S extends ArgSpec> {
  name: string;
  /** One line, e.g. 'usage: otslake vacuum URI [--execute]'. */
  usage: string;
  options: S;
  /** Checks option values first (throw UsageError), then opens the table with `openTable()`. */
  run(values: Values<S>, openTable: () => ObjectStore): Promise<number>;
}

export async function runTableCommand<S extends ArgSpec>(cmd: TableCommand<S>, argv: string[]): Promise<number> {
  const usage = `${cmd.usage}\n`;
  let parsed;
  try {
    parsed = parseCommandArgs(argv, { ...cmd.options, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } });
  } catch (err) {
    process.stderr.write(`otslake ${cmd.name}: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const { help: helpFlag, config: configPath } = values as { help?: boolean; config?: string };
  const help = helpFlag === true;
  if (help || positionals.length !== 1) {
    process.stderr.write(usage);
    return help ? 0 : 2;
  }
  let store: ObjectStore | undefined;
  try {
    return await cmd.run(values as Values<S>, () => (store = openTableStore(positionals[0]!, configPath)));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`otslake ${cmd.name}: ${err.message}\n${usage}`);
      return 2;
    }
    if (!isOtslakeError(err)) throw err;
    process.stderr.write(`otslake ${cmd.name}: ${err.code}: ${err.message}\n`);
    return 1;
  } finally {
    await (store as ObjectStore | undefined)?.close?.();
  }
}
