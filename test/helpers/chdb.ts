/**
 * Reads Delta tables with chdb (embedded ClickHouse + delta-kernel-rs), an independent Delta reader.
 *
 * chdb runs in a child process: its ~570 MB native library and single data directory per process
 * do not belong inside vitest's workers, and a crash in it must fail the test, not the runner.
 * Loading it costs ~1 s, so several queries are sent to one process at once.
 * Pitfalls: absolute paths only; never trust plain count().
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';

export type ChdbOutcome = { ok: true; rows: Record<string, unknown>[] } | { ok: false; error: string };

const CHDB_MODULE = createRequire(import.meta.url).resolve('chdb');

// cwd '/' because chdb only reads files under its user_files path, which is the working directory.
const CHILD = `
const { query } = require(process.env.OTSLAKE_CHDB_MODULE);
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((sql) => {
    try {
      const text = query(sql, 'JSONEachRow');
      return { ok: true, rows: text.split('\\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l)) };
    } catch (err) {
      return { ok: false, error: String(err && err.message || err) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
`;

/** Runs each SQL statement in one chdb process; failures come back per statement. */
export function runChdb(sqls: readonly string[], timeoutMs = 60_000): Promise<ChdbOutcome[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-e', CHILD],
      { cwd: '/', env: { ...process.env, OTSLAKE_CHDB_MODULE: CHDB_MODULE }, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`chdb child failed: ${err.message}\n${stderr}`));
          return;
        }
        resolve(JSON.parse(stdout) as ChdbOutcome[]);
      },
    );
    child.stdin!.end(JSON.stringify(sqls));
  });
}

export interface DeltaQuery {
  /** Time travel (delta_lake_snapshot_version). */
  version?: number;
  select?: string;
  where?: string;
  orderBy?: string;
  /** Extra SETTINGS, e.g. `delta_lake_enable_engine_predicate=0`. */
  settings?: string;
  /**
   * The Change Data Feed of versions from..to (delta-kernel's table_changes behind
   * delta_lake_snapshot_start/end_version): rows carry _change_type, _commit_version, _commit_timestamp.
   */
  changes?: { from: number; to: number };
}

/** SQL over deltaLakeLocal with UTC timestamps and exact 64-bit integers (quoted in JSON). */
export function deltaSql(tablePath: string, q: DeltaQuery = {}): string {
  if (!isAbsolute(tablePath)) throw new Error(`chdb needs an absolute table path, got ${tablePath}`);
  const settings = ["session_timezone='UTC'", 'output_format_json_quote_64bit_integers=1'];
  if (q.version !== undefined) settings.push(`delta_lake_snapshot_version=${q.version}`);
  if (q.changes) settings.push(`delta_lake_snapshot_start_version=${q.changes.from}`, `delta_lake_snapshot_end_version=${q.changes.to}`);
  if (q.settings) settings.push(q.settings);
  return [
    `SELECT ${q.select ?? '*'} FROM deltaLakeLocal('${tablePath.replace(/'/g, "\\'")}')`,
    q.where ? `WHERE ${q.where}` : '',
    q.orderBy ? `ORDER BY ${q.orderBy}` : '',
    `SETTINGS ${settings.join(', ')}`,
  ].join(' ');
}

/** Rows of one query, or throws with chdb's message. */
export async function readDeltaTable(tablePath: string, q: DeltaQuery = {}): Promise<Record<string, unknown>[]> {
  const [outcome] = await runChdb([deltaSql(tablePath, q)]);
  if (!outcome!.ok) throw new Error(`chdb: ${outcome!.error}`);
  return outcome!.rows;
}

export interface IcebergQuery {
  /** Time travel (iceberg_snapshot_id); the current snapshot when omitted. */
  snapshotId?: number;
  select?: string;
  where?: string;
  orderBy?: string;
  settings?: string;
}

/** SQL over icebergLocal (ClickHouse's own Iceberg reader), in the same output form as deltaSql. */
export function icebergSql(tablePath: string, q: IcebergQuery = {}, tableFunction = `icebergLocal('${tablePath.replace(/'/g, "\\'")}')`): string {
  if (!isAbsolute(tablePath)) throw new Error(`chdb needs an absolute table path, got ${tablePath}`);
  const settings = ["session_timezone='UTC'", 'output_format_json_quote_64bit_integers=1'];
  if (q.snapshotId !== undefined) settings.push(`iceberg_snapshot_id=${q.snapshotId}`);
  if (q.settings) settings.push(q.settings);
  return [
    `SELECT ${q.select ?? '*'} FROM ${tableFunction}`,
    q.where ? `WHERE ${q.where}` : '',
    q.orderBy ? `ORDER BY ${q.orderBy}` : '',
    `SETTINGS ${settings.join(', ')}`,
  ].join(' ');
}
