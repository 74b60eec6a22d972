/**
 * `otslake status --config FILE [--json]`: per table the lake version and rows, per channel the
 * position in force, state, owner and lag from DescribeTunnel, the tunnel stage and full-snapshot
 * progress. Reads the lake and the Tunnel directly, so it works whether or not a daemon runs.
 */
import { parseCommandArgs } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { loadConfig } from '../../config/load.js';
import type { TunnelClient } from '../../tunnel/tunnel-client.js';
import type { Command } from '../command.js';
import { openLakeRoot, openTunnelClient } from '../../daemon/connections.js';
import { collectTableStatus, renderTableStatus } from '../../pipeline/table-status.js';

export const command: Command = {
  summary: 'show per-table progress',
  async run(argv: string[]): Promise<number> {
    let args;
    try {
      args = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
    } catch (err) {
      process.stderr.write(`otslake status: ${(err as Error).message}\nusage: otslake status --config FILE [--json]\n`);
      return 2;
    }
    if (typeof args.values.config !== 'string') {
      process.stderr.write('otslake status: --config FILE is required\n');
      return 2;
    }
    let client: TunnelClient | null = null;
    try {
      const config = loadConfig(args.values.config);
      const lakeRoot = openLakeRoot(config);
      client = openTunnelClient(config, { retry: { maxAttempts: 3 } });
      const tables = [];
      for (const t of config.tables) tables.push(await collectTableStatus(t, lakeRoot, client));
      process.stdout.write(args.values.json === true ? JSON.stringify({ tables }, null, 2) + '\n' : tables.map(renderTableStatus).join('\n\n') + '\n');
      await lakeRoot.close?.();
      return 0;
    } catch (err) {
      process.stderr.write(`otslake status: ${isOtslakeError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
      return 1;
    } finally {
      client?.close();
    }
  },
};
