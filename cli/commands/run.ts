/**
 * `otslake run --config FILE [--until-idle]`: the daemon. With --until-idle it exits 0 once every
 * table is caught up (every channel read to its current end, committed and checkpointed, past the
 * base stage, no channel waiting for an owner) — a one-shot sync for cron jobs, demos and tests.
 */
import { parseCommandArgs } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { loadConfig } from '../../config/load.js';
import type { Command } from '../command.js';
import { runDaemon } from '../../daemon/main.js';

export const command: Command = {
  summary: 'run the daemon',
  async run(argv: string[]): Promise<number> {
    let args;
    try {
      args = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, 'until-idle': { type: 'boolean' } });
    } catch (err) {
      process.stderr.write(`otslake run: ${(err as Error).message}\nusage: otslake run --config FILE [--until-idle]\n`);
      return 2;
    }
    const path = args.values.config;
    if (typeof path !== 'string') {
      process.stderr.write('otslake run: --config FILE is required\n');
      return 2;
    }
    let config;
    try {
      config = loadConfig(path);
    } catch (err) {
      process.stderr.write(`otslake run: ${isOtslakeError(err) ? err.message : String(err)}\n`);
      return 2;
    }
    return runDaemon(config, { untilIdle: args.values['until-idle'] === true });
  },
};
