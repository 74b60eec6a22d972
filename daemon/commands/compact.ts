/**
 * `otslake compact URI [--target-size 128MiB] [--execute] [--json]`: bin-packs small files per
 * partition (lake/compaction.ts). Prints the plan and commits nothing unless --execute is given.
 */
import { parseCommandArgs } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { parseBytes } from '../../common/units.js';
import { compactTable, type CompactionBin } from '../../lake/compaction.js';
import type { ObjectStore } from '../../lake/object-store.js';
import type { Command } from '../cli.js';
import { openTableStore } from './inspect.js';

const USAGE = 'usage: otslake compact URI [--target-size 128MiB] [--execute] [--json]\n';

function describeBins(bins: readonly CompactionBin[]): string {
  return bins.map((b) => `  ${JSON.stringify(b.partitionValues)}: ${b.files.length} files, ${b.bytes} bytes → 1 file\n`).join('');
}

export const command: Command = {
  summary: 'bin-pack small files (dry run unless --execute)',
  async run(argv: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseCommandArgs(argv, {
        'target-size': { type: 'string' },
        execute: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      });
    } catch (err) {
      process.stderr.write(`otslake compact: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help || positionals.length !== 1) {
      process.stderr.write(USAGE);
      return values.help ? 0 : 2;
    }
    let targetFileBytes: number;
    try {
      targetFileBytes = parseBytes(values['target-size'] ?? '128MiB');
    } catch (err) {
      process.stderr.write(`otslake compact: ${(err as Error).message}\n`);
      return 2;
    }
    let store: ObjectStore | undefined;
    try {
      store = openTableStore(positionals[0]!);
      const result = await compactTable(store, { targetFileBytes, dryRun: !values.execute });
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
    } catch (err) {
      if (!isOtslakeError(err)) throw err;
      process.stderr.write(`otslake compact: ${err.code}: ${err.message}\n`);
      return 1;
    } finally {
      await store?.close?.();
    }
  },
};
