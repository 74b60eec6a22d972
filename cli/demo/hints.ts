/**
 * How to look at the demo, printed when it starts: the daemon's status page and endpoints, a chdb
 * query (embedded ClickHouse with delta-kernel-rs, a Delta reader independent of ours),
 * `otslake inspect` and `otslake status`.
 */
import { createRequire } from 'node:module';

/** Changes per minute and the order value they carry: a query any Delta reader can run. */
export function demoQuery(tablePath: string): string {
  const path = tablePath.replace(/'/g, "\\'");
  return (
    `SELECT toStartOfMinute(_ts) AS minute, count() AS changes, countIf(_op = 'PUT') AS new_orders, round(sum(amount), 2) AS amount ` +
    `FROM deltaLakeLocal('${path}') WHERE _op != 'DELETE' GROUP BY minute ORDER BY minute`
  );
}

/** The status page first: it is what most people open. `httpUrl` as the daemon bound it. */
export function endpointHints(httpUrl: string): string[] {
  return [`  page      ${httpUrl}/   (status page: open it in a browser)`, `  endpoints ${httpUrl}/status  ${httpUrl}/metrics  ${httpUrl}/healthz`];
}

/** chdb is installed by the first `npm test` (scripts/ensure-test-deps.mjs), not by `npm ci`; null when absent. */
function chdbModulePath(): string | null {
  try {
    return createRequire(import.meta.url).resolve('chdb');
  } catch {
    return null;
  }
}

export function queryHints(tablePath: string, configPath: string): string[] {
  const chdb = chdbModulePath();
  const sql = demoQuery(tablePath);
  // `cd /`: chdb reads local files only below its working directory.
  const chdbLine = chdb
    ? `  cd / && OTSLAKE_SQL="${sql}" node -e "console.log(require('${chdb}').query(process.env.OTSLAKE_SQL, 'PrettyCompact'))"`
    : `  (chdb is not installed yet: \`npm test\` installs it, or \`npm install --no-save chdb@3.4.0\`; or run this SQL in any Delta reader)\n  ${sql}`;
  return [
    'Query the table while it fills (chdb, embedded ClickHouse):',
    chdbLine,
    'Describe the Delta table (versions, files, schema):',
    `  bin/otslake inspect ${tablePath}`,
    'Per-channel positions and lag (from another terminal, while the demo runs):',
    `  bin/otslake status --config ${configPath}`,
  ];
}
