/**
 * `otslake vacuum URI [--retention 7d] [--execute] [--json]`: deletes data files no snapshot needs
 * any more (lake/vacuum.ts). Lists what it would delete unless --execute is given. A retention
 * shorter than the table's delta.deletedFileRetentionDuration needs --allow-short-retention.
 */
import { parseDuration } from '../../common/units.js';
import { vacuum } from '../../lake/vacuum.js';
import type { Command } from '../command.js';
import { runTableCommand, UsageError } from './table-command.js';

const USAGE = 'usage: otslake vacuum URI [--retention 7d] [--allow-short-retention] [--execute] [--json] [--config FILE]';

export const command: Command = {
  summary: 'delete unreferenced files (dry run unless --execute)',
  run: (argv) =>
    runTableCommand(
      {
        name: 'vacuum',
        usage: USAGE,
        options: { retention: { type: 'string' }, execute: { type: 'boolean' }, 'allow-short-retention': { type: 'boolean' }, json: { type: 'boolean' } },
        async run(values, openTable) {
          let retentionMs: number | undefined;
          try {
            retentionMs = values.retention === undefined ? undefined : parseDuration(values.retention);
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
          const result = await vacuum(openTable(), {
            dryRun: !values.execute,
            ...(retentionMs === undefined ? {} : { retentionMs }),
            ...(values['allow-short-retention'] ? { allowShortRetention: true } : {}),
          });
          if (values.json) {
            process.stdout.write(JSON.stringify(result) + '\n');
            return 0;
          }
          const verb = result.dryRun ? 'would delete' : 'deleted';
          process.stdout.write(result.files.map((f) => `${verb} ${f.key} (${f.size} bytes)\n`).join(''));
          process.stdout.write(
            `${verb} ${result.files.length} files, ${result.bytes} bytes (version ${result.snapshotVersion}, retention ${result.retentionMs} ms)\n`,
          );
          if (result.dryRun && result.files.length > 0) process.stdout.write('run again with --execute to delete\n');
          return 0;
        },
      },
      argv,
    ),
};
