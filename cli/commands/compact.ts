/**
 * `otslake compact URI [--target-size 128MiB] [--execute] [--json]`: bin-packs small files per
 * partition (lake/compaction.ts). Prints the plan and commits nothing unless --execute is given.
 */
import { parseBytes } from '../../common/units.js';
import { compactTable, type CompactionBin } from '../../lake/compaction.js';
import type { Command } from '../command.js';
import { runTableCommand, UsageError } from './table-command.js';

const USAGE = 'usage: otslake compact URI [--target-size 128MiB] [--execute] [--json] [--config FILE]';

function describeBins(bins: readonly CompactionBin[]): string {
  return bins.map((b) => `  ${JSON.stringify(b.partitionValues)}: ${b.files.length} files, ${b.bytes} bytes → 1 file\n`).join('');
}

export const command: Command = {
  summary: 'bin-pack small files (dry run unless --execute)',
  run: (argv) =>
    runTableCommand(
      {
        name: 'compact',
        usage: USAGE,
        options: { 'target-size': { type: 'string' }, execute: { type: 'boolean' }, json: { type: 'boolean' } },
        async run(values, openTable) {
          let targetFileBytes: number;
          try {
            targetFileBytes = parseBytes(values['target-size'] ?? '128MiB');
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
          const result = await compactTable(openTable(), { targetFileBytes, dryRun: !values.execute });
          if (values.json) {
            process.stdout.write(JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
          } else if (result.kind === 'not-applicable') {
            process.stdout.write(`not compacted at version ${result.snapshotVersion}: ${result.reason}\n`);
          } else if (result.kind === 'nothing-to-do') {
            process.stdout.write(`nothing to compact at version ${result.snapshotVersion}\n`);
          } else if (result.kind === 'planned') {
            process.stdout.write(
              `dry run at version ${result.snapshotVersion}; would rewrite ${result.bins.length} bin(s):\n${describeBins(result.bins)}run again with --execute to commit\n`,
            );
          } else if (result.kind === 'compacted') {
            process.stdout.write(
              `committed version ${result.version}: removed ${result.removed} files, added ${result.added.length}\n${describeBins(result.bins)}`,
            );
          } else {
            process.stdout.write(`not committed: ${result.result.reason} (version ${result.result.winningVersion}); try again\n`);
            return 1;
          }
          return 0;
        },
      },
      argv,
    ),
};
