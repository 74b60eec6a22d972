import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/load.js';
import { CONFIG_SCHEMA } from '../../../config/schema.js';
import { runValidateConfig } from '../../../cli/commands/validate-config.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const JSON_EXAMPLE = `${root}config/otslake.example.json`;
const YAML_EXAMPLE = `${root}config/otslake.example.yaml`;
const SERVICE = `${root}config/otslake.service`;

const ENV = {
  OTSLAKE_SOURCE_ACCESS_KEY_ID: 'example-id',
  OTSLAKE_SOURCE_ACCESS_KEY_SECRET: 'source-secret-zz9',
  OTSLAKE_LAKE_OSS_ACCESS_KEY_ID: 'oss-id',
  OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET: 'oss-secret-zz9',
};

async function validate(argv: string[], env: Record<string, string> = ENV) {
  let stdout = '';
  let stderr = '';
  const code = await runValidateConfig(argv, { env, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('example configs', () => {
  it.each([JSON_EXAMPLE, YAML_EXAMPLE])('validate-config accepts %s and prints no secret', async (file) => {
    const { code, stdout, stderr } = await validate(['--config', file]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^OK /);
    expect(stdout).toContain('orders → orders mode=changelog');
    expect(stdout).not.toContain('zz9');
  });

  it('the JSON and the annotated YAML say the same thing', () => {
    expect(loadConfig(YAML_EXAMPLE, ENV)).toEqual(loadConfig(JSON_EXAMPLE, ENV));
  });

  it('--json prints the redacted config', async () => {
    const { code, stdout } = await validate(['--config', JSON_EXAMPLE, '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { ok: boolean; config: { lake: { oss: { accessKeySecret: string } } } };
    expect(out.ok).toBe(true);
    expect(out.config.lake.oss.accessKeySecret).toBe('[Redacted]');
    expect(stdout).not.toContain('zz9');
  });

  it('without the secrets in the environment, lists each missing key and exits 1', async () => {
    const { code, stdout, stderr } = await validate(['--config', JSON_EXAMPLE], {});
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('is invalid (4 problems)');
    expect(stderr).toContain('  source.accessKeySecret: is required: set it in the file or through OTSLAKE_SOURCE_ACCESS_KEY_SECRET\n');
    expect(stderr).toContain('  lake.oss.accessKeySecret: is required when lake.uri is oss://');
  });

  it('without --config prints usage and exits 2', async () => {
    const { code, stderr } = await validate([]);
    expect(code).toBe(2);
    expect(stderr).toContain('usage: otslake validate-config --config FILE');
    expect((await validate(['--bogus'])).code).toBe(2);
  });

  it('through the CLI process: exit code 1, the key named, the secret never printed', async () => {
    const run = promisify(execFile);
    const script = `import('${root}cli/main.ts').then((m) => m.main(process.argv.slice(1)))`;
    const env = { PATH: process.env.PATH ?? '', OTSLAKE_SOURCE_ACCESS_KEY_SECRET: 'cli-secret-zz9', OTSLAKE_LOG_LEVEL: 'loud' };
    const result = await run(process.execPath, ['--import', 'tsx', '-e', script, 'validate-config', '--config', JSON_EXAMPLE], { env, cwd: root }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('log.level: must be one of debug, info, warn, error, silent, got "loud" (from OTSLAKE_LOG_LEVEL)');
    expect(result.stderr + result.stdout).not.toContain('zz9');
  });
});

describe('systemd unit', () => {
  const unit = readFileSync(SERVICE, 'utf8');
  const directive = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(unit)?.[1];

  it('restarts on failure, drains on SIGTERM longer than the grace period, and is sandboxed', () => {
    expect(directive('Restart')).toBe('on-failure');
    expect(directive('KillSignal')).toBe('SIGTERM');
    const stopSec = Number(/^(\d+)s$/.exec(directive('TimeoutStopSec') ?? '')?.[1]);
    expect(stopSec * 1000).toBeGreaterThan(CONFIG_SCHEMA.shutdown.graceMs.default);
    for (const key of [
      'NoNewPrivileges',
      'ProtectSystem',
      'ProtectHome',
      'PrivateTmp',
      'CapabilityBoundingSet',
      'SystemCallFilter',
      'RestrictAddressFamilies',
    ]) {
      expect(directive(key), key).toBeDefined();
    }
    expect(directive('ProtectSystem')).toBe('strict');
    // The default lake (file:///var/lib/otslake/lake) must be writable under ProtectSystem=strict.
    expect(directive('StateDirectory')).toBe('otslake');
    expect(CONFIG_SCHEMA.lake.uri.default).toBe('file:///var/lib/otslake/lake');
    expect(directive('ExecStartPre')).toContain('validate-config --config /etc/otslake/otslake.json');
  });

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('passes systemd-analyze verify without warnings', async () => {
    const run = promisify(execFile);
    const { stderr } = await run('/usr/bin/systemd-analyze', ['verify', SERVICE]);
    expect(stderr.trim()).toBe('');
  });
});
