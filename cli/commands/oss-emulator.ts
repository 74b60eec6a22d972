/**
 * `otslake oss-emulator --host 127.0.0.1 --port 9000 --bucket NAME [--data-dir DIR] [--region R]`:
 * runs the OSS emulator in the foreground until SIGTERM/SIGINT. Prints one line containing
 * `listening on http://HOST:PORT` once it accepts connections (scripts wait for it).
 */
import { parseCommandArgs } from '../../common/args.js';
import { createLogger } from '../../common/log.js';
import { startOssEmulator } from '../../emulator/oss/server.js';
import type { Command } from '../command.js';

const USAGE = 'usage: otslake oss-emulator [--host 127.0.0.1] [--port 9000] [--bucket otslake] [--data-dir DIR] [--region cn-hangzhou]';

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
    const logger = createLogger({ level: 'info' });
    let emulator;
    try {
      emulator = await startOssEmulator({
        host: values.host as string,
        port,
        bucket: values.bucket as string,
        region: values.region as string,
        logger,
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
