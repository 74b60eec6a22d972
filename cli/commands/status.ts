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
import { tableDescriber } from '../../pipeline/table-schema.js';

const USAGE = `usage: otslake status --config FILE [--json]

  -c, --config FILE   the config file (keys may also come from OTSLAKE_* variables)
      --json          machine-readable output
  -h, --help          this text

Exit code 1 when a side (the Tunnel or the lake) could not be read; what could be read is printed.
`;

export const command: Command = {
  summary: 'show per-table progress',
  async run(argv: string[]): Promise<number> {
    let args;
    try {
      args = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
    } catch (err) {
      process.stderr.write(`otslake status: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    if (args.values.help === true) {
      process.stdout.write(USAGE);
      return 0;
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
      const retention = { describeTable: tableDescriber(config.connections.tablestore), fallbackWindowMs: config.source.streamRetentionMs };
      for (const t of config.tables) tables.push(await collectTableStatus(t, lakeRoot, client, retention));
      process.stdout.write(args.values.json === true ? JSON.stringify({ tables }, null, 2) + '\n' : tables.map(renderTableStatus).join('\n\n') + '\n');
      await lakeRoot.close?.();
      // Whatever could be read is printed; a side that could not be read makes the exit code say so.
      return tables.some((t) => t.tunnel.error !== null || t.lake.error !== null) ? 1 : 0;
    } catch (err) {
      process.stderr.write(`otslake status: ${isOtslakeError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
      return 1;
    } finally {
      client?.close();
    }
  },
};
