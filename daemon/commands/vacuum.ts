/**
 * `otslake vacuum URI [--retention 7d] [--execute] [--json]`: deletes data files no snapshot needs
 * any more (lake/vacuum.ts). Lists what it would delete unless --execute is given. A retention
 * shorter than the table's delta.deletedFileRetentionDuration needs --allow-short-retention.
 */
import { parseCommandArgs } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { parseDuration } from '../../common/units.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { vacuum } from '../../lake/vacuum.js';
import type { Command } from '../cli.js';
import { openTableStore } from './inspect.js';

const USAGE = 'usage: otslake vacuum URI [--retention 7d] [--allow-short-retention] [--execute] [--json]\n';

export const command: Command = {
  summary: 'delete unreferenced files (dry run unless --execute)',
  async run(argv: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseCommandArgs(argv, {
        retention: { type: 'string' },
        execute: { type: 'boolean' },
        'allow-short-retention': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      });
    } catch (err) {
      process.stderr.write(`otslake vacuum: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help || positionals.length !== 1) {
      process.stderr.write(USAGE);
      return values.help ? 0 : 2;
    }
    let retentionMs: number | undefined;
    try {
      retentionMs = values.retention === undefined ? undefined : parseDuration(values.retention);
    } catch (err) {
      process.stderr.write(`otslake vacuum: ${(err as Error).message}\n`);
      return 2;
    }
    let store: ObjectStore | undefined;
    try {
      store = openTableStore(positionals[0]!);
      const result = await vacuum(store, {
        dryRun: !values.execute,
        ...(retentionMs === undefined ? {} : { retentionMs }),
        ...(values['allow-short-retention'] ? { allowShortRetention: true } : {}),
      });
      if (values.json) {
        process.stdout.write(JSON.stringify(result) + '\n');
      } else {
        const verb = result.dryRun ? 'would delete' : 'deleted';
        process.stdout.write(result.files.map((f) => `${verb} ${f.key} (${f.size} bytes)\n`).join(''));
        process.stdout.write(
          `${verb} ${result.files.length} files, ${result.bytes} bytes (version ${result.snapshotVersion}, retention ${result.retentionMs} ms)\n`,
        );
        if (result.dryRun && result.files.length > 0) process.stdout.write('run again with --execute to delete\n');
      }
      return 0;
    } catch (err) {
      if (!isOtslakeError(err)) throw err;
      process.stderr.write(`otslake vacuum: ${err.code}: ${err.message}\n`);
      return 1;
    } finally {
      await store?.close?.();
    }
  },
};
