/**
 * `otslake oss-emulator --host 127.0.0.1 --port 9000 --bucket NAME [--data-dir DIR] [--region R]
 *  [--access-key-id ID]`: runs the OSS emulator in the foreground until SIGTERM/SIGINT. Prints one
 * line containing `listening on http://HOST:PORT` once it accepts connections (scripts wait for it).
 * With --access-key-id, requests must be signed (V1 or V4) with that key and the secret from
 * OTSLAKE_EMULATOR_ACCESS_KEY_SECRET or --access-key-secret-file (never the command line, which `ps` shows).
 */
import { readFileSync } from 'node:fs';
import { parseCommandArgs } from '../../common/args.js';
import { createLogger } from '../../common/log.js';
import { startOssEmulator } from '../../emulator/oss/server.js';
import type { Command } from '../command.js';

const USAGE =
  'usage: otslake oss-emulator [--host 127.0.0.1] [--port 9000] [--bucket otslake] [--data-dir DIR] [--region cn-hangzhou]\n' +
  '         [--access-key-id ID (secret: OTSLAKE_EMULATOR_ACCESS_KEY_SECRET or --access-key-secret-file FILE)] [--open-admin]';

export const command: Command = {
  summary: 'run the OSS emulator (ali-oss and S3 path-style readers work against it)',
  async run(argv: string[]): Promise<number> {
    let values;
    try {
      ({ values } = parseCommandArgs(argv, {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '9000' },
        bucket: { type: 'string', default: 'otslake' },
        'data-dir': { type: 'string' },
        region: { type: 'string', default: 'cn-hangzhou' },
        'access-key-id': { type: 'string' },
        'access-key-secret-file': { type: 'string' },
        'open-admin': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      }));
    } catch (err) {
      process.stderr.write(`otslake oss-emulator: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`otslake oss-emulator: --port must be 0..65535, got "${values.port}"\n`);
      return 2;
    }
    let credentials: Array<{ accessKeyId: string; accessKeySecret: string }> | undefined;
    if (values['access-key-id'] !== undefined) {
      let secret = process.env.OTSLAKE_EMULATOR_ACCESS_KEY_SECRET ?? '';
      try {
        if (values['access-key-secret-file'] !== undefined) secret = readFileSync(values['access-key-secret-file'], 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        process.stderr.write(`otslake oss-emulator: cannot read --access-key-secret-file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
        return 2;
      }
      if (secret === '') {
        process.stderr.write(`otslake oss-emulator: --access-key-id needs OTSLAKE_EMULATOR_ACCESS_KEY_SECRET or --access-key-secret-file\n${USAGE}\n`);
        return 2;
      }
      credentials = [{ accessKeyId: values['access-key-id'], accessKeySecret: secret }];
    }
    const logger = createLogger({ level: 'info' });
    if (credentials === undefined) logger.warn('no --access-key-id: any credentials are accepted');
    let emulator;
    try {
      emulator = await startOssEmulator({
        host: values.host as string,
        port,
        bucket: values.bucket as string,
        region: values.region as string,
        logger,
        openAdmin: values['open-admin'] === true,
        ...(credentials !== undefined ? { credentials } : {}),
        ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
      });
    } catch (err) {
      process.stderr.write(`otslake oss-emulator: ${(err as Error).message}\n`);
      return 1;
    }
    const storage = values['data-dir'] !== undefined ? `data dir ${values['data-dir']}` : 'in memory';
    process.stdout.write(`otslake oss-emulator listening on ${emulator.endpoint} (bucket ${emulator.bucket}, ${storage})\n`);

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    logger.info('stopping', { signal });
    await emulator.close();
    return 0;
  },
};
