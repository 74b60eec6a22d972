/**
 * `otslake run --config FILE [--until-idle [--idle-timeout DURATION]]`: the daemon. With --until-idle
 * it exits 0 once every table is caught up (every channel read to its current end by a live owner,
 * committed and checkpointed, past the base stage, no channel waiting for an owner or for a departed
 * client to expire) — a one-shot sync for cron jobs, demos and tests. --idle-timeout bounds the wait:
 * past it the exit code is 1 and the log says why each table is not caught up.
 *
 * Exit codes: 0 stopped (signal, or caught up), 1 a fatal error (configuration, credentials, the
 * idle bound), 2 a usage mistake or a config file that does not load.
 */
import { parseCommandArgs } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { parseDuration } from '../../common/units.js';
import { loadConfig } from '../../config/load.js';
import type { Command } from '../command.js';
import { runDaemon } from '../../daemon/main.js';

const USAGE = `usage: otslake run --config FILE [--until-idle [--idle-timeout DURATION]]

  -c, --config FILE          the config file (keys may also come from OTSLAKE_* variables)
      --until-idle           exit 0 once every table is caught up
      --idle-timeout DURATION  with --until-idle: exit 1 if not caught up within DURATION (e.g. 10m)
  -h, --help                 this text
`;

export const command: Command = {
  summary: 'run the daemon',
  async run(argv: string[]): Promise<number> {
    let args;
    try {
      args = parseCommandArgs(argv, {
        config: { type: 'string', short: 'c' },
        'until-idle': { type: 'boolean' },
        'idle-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
    } catch (err) {
      process.stderr.write(`otslake run: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    if (args.values.help === true) {
      process.stdout.write(USAGE);
      return 0;
    }
    const path = args.values.config;
    if (typeof path !== 'string') {
      process.stderr.write(`otslake run: --config FILE is required\n${USAGE}`);
      return 2;
    }
    let idleTimeoutMs: number | undefined;
    if (args.values['idle-timeout'] !== undefined) {
      try {
        idleTimeoutMs = parseDuration(args.values['idle-timeout']);
      } catch (err) {
        process.stderr.write(`otslake run: --idle-timeout: ${(err as Error).message}\n${USAGE}`);
        return 2;
      }
      if (args.values['until-idle'] !== true) {
        process.stderr.write(`otslake run: --idle-timeout needs --until-idle\n${USAGE}`);
        return 2;
      }
    }
    let config;
    try {
      config = loadConfig(path);
    } catch (err) {
      process.stderr.write(`otslake run: ${isOtslakeError(err) ? err.message : String(err)}\n`);
      return 2;
    }
    return runDaemon(config, {
      untilIdle: args.values['until-idle'] === true,
      ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
      reloadConfig: () => loadConfig(path),
    });
  },
};
