/**
 * `otslake validate-config --config FILE [--json]`: OK plus a redacted summary (exit 0), or every
 * problem by key (exit 1). Used by the systemd unit's ExecStartPre, so the journal names the key.
 * Never prints a secret: the summary goes through redactedConfig() and problems never carry values
 * of sensitive keys.
 */
import { parseCommandArgs } from '../../common/args.js';
import { hasCode } from '../../common/errors.js';
import { ConfigError, formatIssue } from '../../config/config-error.js';
import { loadConfig, redactedConfig, type Env, type ResolvedConfig } from '../../config/load.js';
import type { Command } from '../command.js';

export interface ValidateConfigIo {
  /** Only for tests; the CLI lets config/ read process.env. */
  env?: Env;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const USAGE = 'usage: otslake validate-config --config FILE [--json]\n';

function summarize(cfg: ResolvedConfig): string {
  const lines = [
    `source   ${cfg.source.endpoint} instance=${cfg.source.instance}`,
    `lake     ${cfg.lake.uri}${cfg.lake.oss ? ` (oss endpoint ${cfg.lake.oss.endpoint})` : ''}`,
    `tables   ${cfg.tables.length}`,
    ...cfg.tables.map((t) => `  ${t.table} → ${t.path} mode=${t.mode} tunnel=${t.tunnel.name} (${t.tunnel.type})`),
    `batch    every ${cfg.batch.intervalMs}ms; per channel ≤ ${cfg.batch.maxRecordsPerChannel} records, ${cfg.batch.maxBytesPerChannel} bytes, ${cfg.batch.maxDurationMs}ms`,
    `workers  ${cfg.workers.threads} thread(s)`,
    `http     ${cfg.http.host}:${cfg.http.port}`,
  ];
  return lines.join('\n') + '\n';
}

export async function runValidateConfig(argv: string[], io: ValidateConfigIo): Promise<number> {
  let path: string | undefined;
  let json = false;
  try {
    const { values } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
    path = values.config as string | undefined;
    json = values.json === true;
  } catch (err) {
    io.stderr(`otslake validate-config: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (path === undefined) {
    io.stderr(`otslake validate-config: --config FILE is required\n${USAGE}`);
    return 2;
  }
  try {
    const cfg = io.env === undefined ? loadConfig(path) : loadConfig(path, io.env);
    if (json) io.stdout(JSON.stringify({ ok: true, file: path, config: redactedConfig(cfg) }, null, 2) + '\n');
    else io.stdout(`OK ${path}\n${summarize(cfg)}`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError) && !hasCode(err, 'OTSL_CONFIG_INVALID')) throw err;
    const issues = err instanceof ConfigError ? err.issues : [{ key: '', problem: (err as Error).message }];
    if (json) {
      io.stdout(JSON.stringify({ ok: false, file: path, issues }, null, 2) + '\n');
    } else {
      io.stderr(`otslake validate-config: ${path} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n`);
      for (const issue of issues) io.stderr(`  ${formatIssue(issue)}\n`);
    }
    return 1;
  }
}

export const command: Command = {
  summary: 'check a config file and print a redacted summary',
  run: (argv) =>
    runValidateConfig(argv, {
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
    }),
};
