/**
 * `otslake resync --config FILE --table NAME`: moves a table to a fresh BaseAndStream tunnel in one Delta commit
 * and deletes the old tunnel (pipeline/resync.ts). A changelog table: the next run of the daemon lands the new
 * baseline, then the changes. A mirror table: this command lands the new snapshot (worker threads, as the daemon)
 * and replaces the table's contents with it in that commit; the daemon goes on from the new tunnel's stream. Where
 * the daemon of this config runs and has the table, it does the resync itself and this command follows it
 * (resync-through-daemon.ts); a rerun after a crash finishes what the last run began. Exit codes: 0 done, 1 refused or failed (the
 * error's code on stderr), 2 a usage mistake or a config file that does not load.
 */
import { parseCommandArgs } from '../../common/args.js';
import { isOtslakeError } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import { loadConfig } from '../../config/load.js';
import { openLakeRoot, openTunnelClient } from '../../daemon/connections.js';
import { hostname } from 'node:os';
import { Metrics } from '../../daemon/metrics.js';
import { resyncTable } from '../../pipeline/resync.js';
import type { StagingDeps } from '../../pipeline/resync-mirror.js';
import { tableDescriber } from '../../pipeline/table-schema.js';
import { createWorkerPool, entryWorkerFile, type WorkerPool } from '../../workers/pool.js';
import { workerSetupFrom } from '../../workers/worker-setup.js';
import type { Command } from '../command.js';
import { resyncThroughDaemon, type DaemonResync } from './resync-through-daemon.js';

const USAGE = `usage: otslake resync --config FILE --table NAME

  -c, --config FILE   the daemon's config file
  -t, --table NAME    the tables[] entry to rebuild from a fresh tunnel (its table name, or its path)
  -h, --help          this text
`;

export const command: Command = {
  summary: 'rebuild one table from a fresh tunnel',
  async run(argv: string[]): Promise<number> {
    let args;
    try {
      args = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, table: { type: 'string', short: 't' }, help: { type: 'boolean', short: 'h' } });
    } catch (err) {
      process.stderr.write(`otslake resync: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    if (args.values.help === true) {
      process.stdout.write(USAGE);
      return 0;
    }
    const { config: path, table: name } = args.values;
    if (typeof path !== 'string' || typeof name !== 'string') {
      process.stderr.write(`otslake resync: --config FILE and --table NAME are required\n${USAGE}`);
      return 2;
    }
    let config;
    try {
      config = loadConfig(path);
    } catch (err) {
      process.stderr.write(`otslake resync: ${isOtslakeError(err) ? err.message : String(err)}\n`);
      return 2;
    }
    const matches = config.tables.filter((t) => t.path === name || t.table === name);
    if (matches.length !== 1) {
      const known = config.tables.map((t) => `${t.table} (path ${t.path})`).join(', ') || 'none';
      process.stderr.write(`otslake resync: ${matches.length === 0 ? 'no' : 'more than one'} tables[] entry named "${name}"; the config has: ${known}\n`);
      return 2;
    }
    const table = matches[0]!;
    const viaDaemon = await resyncThroughDaemon(config, table.table, () =>
      process.stdout.write(`the running daemon (http ${config.http.host}:${config.http.port}) is resyncing ${table.table}; following it in /status\n`),
    );
    if (viaDaemon.kind !== 'no-daemon') return reportDaemonResync(table.table, viaDaemon);
    const log = createLogger({ level: config.log.level, bindings: { service: 'otslake', command: 'resync' } });
    const client = openTunnelClient(config, { logger: log.child({ component: 'tunnel' }) });
    const root = openLakeRoot(config);
    // A mirror lands the new snapshot itself (channel and merge tasks on worker threads, as the daemon does).
    let pool: WorkerPool | null = null;
    let staging: StagingDeps | undefined;
    if (table.mode === 'mirror') {
      pool = createWorkerPool({
        filename: entryWorkerFile(),
        threads: config.workers.threads,
        tasksPerThread: config.workers.tasksPerThread,
        workerData: workerSetupFrom(config),
        closeTimeoutMs: config.shutdown.graceMs,
        log,
      });
      const describeTable = tableDescriber(config.connections.tablestore);
      staging = { config, lakeRoot: root, pool, metrics: new Metrics(), describeTable, writer: `${hostname()}:${process.pid}:resync` };
    }
    try {
      const result = await resyncTable(client, table, root.child(table.path), log, undefined, staging);
      process.stdout.write(
        `resynced ${table.table}: tunnel ${result.tunnelName} (${result.tunnelId})` +
          (result.previousTunnelId ? `, previous ${result.previousTunnelId}${result.deletedPreviousTunnel ? ' deleted' : ''}` : '') +
          (result.version !== null ? `, RESYNC commit version ${result.version}` : ', already switched') +
          (result.mirror
            ? ` (${result.mirror.rows} rows: ${result.mirror.inserted} inserted, ${result.mirror.updated} updated, ${result.mirror.deleted} deleted). Start (or reload) the daemon: it goes on from the new tunnel's stream.\n`
            : '. Start (or reload) the daemon: it lands the new baseline.\n'),
      );
      return 0;
    } catch (err) {
      if (!isOtslakeError(err)) throw err;
      process.stderr.write(`otslake resync: ${err.code}: ${err.message}\n`);
      return 1;
    } finally {
      await pool?.close();
      client.close();
      await root.close?.();
    }
  },
};

function reportDaemonResync(table: string, outcome: Exclude<DaemonResync, { kind: 'no-daemon' }>): number {
  if (outcome.kind === 'refused') {
    process.stderr.write(`otslake resync: the running daemon refused (HTTP ${outcome.status}): ${outcome.message}\n`);
    return 1;
  }
  if (outcome.kind === 'lost') {
    process.stderr.write(`otslake resync: ${outcome.message}\n`);
    return 1;
  }
  const { record } = outcome;
  if (record.state === 'failed') {
    process.stderr.write(`otslake resync: ${record.error?.code ?? 'failed'}: ${record.error?.message ?? ''} (the table runs on as before)\n`);
    return 1;
  }
  process.stdout.write(
    `resynced ${table} in the running daemon: tunnel ${record.tunnelId}` +
      (record.version !== null ? `, RESYNC commit version ${record.version}` : ', already switched') +
      '; the table runs on from the new tunnel.\n',
  );
  return 0;
}
