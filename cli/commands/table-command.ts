/**
 * What `inspect`, `compact` and `vacuum` share: one table URI argument, options, and the same exit
 * codes — 2 for a usage mistake (bad flag, bad option value), 1 for a lake error (its code and
 * message on stderr), 0 otherwise — with the table's store always closed.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCommandArgs, type ArgSpec } from '../../common/args.js';
import { OtslakeError, isOtslakeError } from '../../common/errors.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { openStore } from '../../lake/store.js';

/** Thrown by a command body for a bad option value: exit code 2 with the usage line. */
export class UsageError extends Error {}

/**
 * file:///abs, a plain local path, or oss://bucket/prefix with the OSS settings taken from the
 * environment (OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, optional OSS_SESSION_TOKEN, OSS_ENDPOINT,
 * OSS_REGION): these are ad-hoc tools, without a config file.
 */
function openTableStore(uri: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(uri)) return openStore(pathToFileURL(resolve(uri)).href);
  if (!uri.startsWith('oss://')) return openStore(uri);
  const accessKeyId = env.OSS_ACCESS_KEY_ID;
  const accessKeySecret = env.OSS_ACCESS_KEY_SECRET;
  if (!accessKeyId || !accessKeySecret) {
    throw new OtslakeError('OTSL_CONFIG_INVALID', `set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET to open ${uri}`, { context: { uri } });
  }
  return openStore(uri, {
    oss: {
      accessKeyId,
      accessKeySecret,
      ...(env.OSS_SESSION_TOKEN ? { stsToken: env.OSS_SESSION_TOKEN } : {}),
      ...(env.OSS_ENDPOINT ? { endpoint: env.OSS_ENDPOINT } : {}),
      ...(env.OSS_REGION ? { region: env.OSS_REGION } : {}),
    },
  });
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
    parsed = parseCommandArgs(argv, { ...cmd.options, help: { type: 'boolean', short: 'h' } });
  } catch (err) {
    process.stderr.write(`otslake ${cmd.name}: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const help = (values as { help?: boolean }).help === true;
  if (help || positionals.length !== 1) {
    process.stderr.write(usage);
    return help ? 0 : 2;
  }
  let store: ObjectStore | undefined;
  try {
    return await cmd.run(values as Values<S>, () => (store = openTableStore(positionals[0]!)));
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
