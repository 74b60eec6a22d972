/**
 * `otslake emulator`: runs tablestore-local (table API + Tunnel API) until SIGTERM/SIGINT.
 * Prints one line with "listening on http://HOST:PORT" once it accepts requests, so scripts and
 * tests can wait for that line instead of sleeping. The secret comes from the environment or a
 * file, never the command line (where `ps` shows it).
 */
import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { parseCommandArgs } from '../../common/args.js';
import { createLogger } from '../../common/log.js';

const USAGE =
  'usage: OTSLAKE_EMULATOR_ACCESS_KEY_SECRET=… otslake emulator [--host 127.0.0.1] [--port 8780] --instance NAME --access-key-id ID\n' +
  '         [--access-key-secret-file FILE] [--data-dir DIR] [--partitions N] [--open-admin]';

/** The secret from --access-key-secret-file (trailing newline dropped) or OTSLAKE_EMULATOR_ACCESS_KEY_SECRET. */
function readSecret(file: string | undefined): string | { problem: string } {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      return { problem: `cannot read --access-key-secret-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }
  return process.env.OTSLAKE_EMULATOR_ACCESS_KEY_SECRET ?? '';
}

export const command: Command = {
  summary: 'run tablestore-local, the Tablestore + Tunnel emulator',
  async run(argv: string[]): Promise<number> {
    let values;
    try {
      values = parseCommandArgs(argv, {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8780' },
        instance: { type: 'string' },
        'access-key-id': { type: 'string' },
        'access-key-secret-file': { type: 'string' },
        'open-admin': { type: 'boolean' },
        'data-dir': { type: 'string' },
        partitions: { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      }).values;
    } catch (err) {
      process.stderr.write(`otslake emulator: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const port = Number(values.port);
    const partitions = values.partitions === undefined ? undefined : Number(values.partitions);
    const problems: string[] = [];
    if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`--port must be an integer in 0..65535, got "${values.port}"`);
    if (partitions !== undefined && !(Number.isInteger(partitions) && partitions >= 1))
      problems.push(`--partitions must be a positive integer, got "${values.partitions}"`);
    for (const name of ['instance', 'access-key-id'] as const) {
      if (!values[name]) problems.push(`--${name} is required`);
    }
    const secret = readSecret(values['access-key-secret-file']);
    if (typeof secret !== 'string') problems.push(secret.problem);
    else if (secret === '') problems.push('set OTSLAKE_EMULATOR_ACCESS_KEY_SECRET or --access-key-secret-file');
    const level = values['log-level'];
    if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level ?? '')) problems.push(`--log-level must be debug|info|warn|error|silent`);
    if (problems.length > 0) {
      process.stderr.write(`otslake emulator: ${problems.join('; ')}\n${USAGE}\n`);
      return 2;
    }
    const logger = createLogger({ level: level as 'info', bindings: { component: 'tablestore-local' } });
    const { startTablestoreEmulator } = await import('../../emulator/tablestore/index.js');
    let emulator;
    try {
      emulator = await startTablestoreEmulator({
        host: values.host!,
        port,
        instance: values.instance!,
        accessKeyId: values['access-key-id']!,
        accessKeySecret: secret as string,
        openAdmin: values['open-admin'] === true,
        ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
        ...(partitions !== undefined ? { partitionsPerTable: partitions } : {}),
        logger,
      });
    } catch (err) {
      const cause = (err as Error).cause instanceof Error ? `: ${((err as Error).cause as Error).message}` : '';
      process.stderr.write(`otslake emulator: ${(err as Error).message}${cause}\n`);
      return 1;
    }
    process.stdout.write(`tablestore-local instance ${emulator.instance} listening on ${emulator.endpoint}\n`);
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        logger.info('stopping', { signal });
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    await emulator.close();
    return 0;
  },
};
