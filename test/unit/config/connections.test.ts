import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../config/config-error.js';
import { loadLakeConnection, redactedConfig } from '../../../config/load.js';
import { testConfig } from '../../helpers/test-config.js';

const dir = mkdtempSync(join(tmpdir(), 'otslake-connections-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OSS_LAKE = {
  source: { securityToken: 'sts-token-value', requestTimeoutMs: '5s' },
  lake: {
    uri: 'oss://bkt/lake',
    oss: { endpoint: 'http://127.0.0.1:9000', region: 'oss-cn-hangzhou', accessKeyId: 'oid', accessKeySecret: 'oss-secret-value', sldEnable: true },
  },
};

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.key}: ${i.problem}`);
  }
  throw new Error('expected a ConfigError');
}

describe('ResolvedConfig.connections', () => {
  it('holds what every client is built from, once', () => {
    const cfg = testConfig(OSS_LAKE);
    expect(cfg.connections).toEqual({
      tablestore: {
        endpoint: 'http://127.0.0.1:8780',
        instanceName: 'otslake-test',
        accessKeyId: 'test-access-key-id',
        accessKeySecret: 'test-access-key-secret',
        securityToken: 'sts-token-value',
        requestTimeoutMs: 5_000,
      },
      lake: {
        uri: 'oss://bkt/lake',
        oss: {
          endpoint: 'http://127.0.0.1:9000',
          region: 'oss-cn-hangzhou',
          accessKeyId: 'oid',
          accessKeySecret: 'oss-secret-value',
          securityToken: null,
          pathStyle: true,
        },
      },
    });
    expect(testConfig().connections.lake).toEqual({ uri: 'file:///tmp/otslake-test-lake', oss: null });
    expect(testConfig().connections.tablestore.securityToken).toBeNull();
  });

  it('is plain data that crosses to a worker thread unchanged (structured clone)', () => {
    const { connections } = testConfig(OSS_LAKE);
    expect(structuredClone(connections)).toEqual(connections);
  });

  it('never shows a secret through redactedConfig', () => {
    const red = JSON.stringify(redactedConfig(testConfig(OSS_LAKE)));
    for (const secret of ['test-access-key-secret', 'sts-token-value', 'oss-secret-value']) expect(red).not.toContain(secret);
    expect(redactedConfig(testConfig(OSS_LAKE)).connections).toMatchObject({
      tablestore: { accessKeySecret: '[Redacted]', securityToken: '[Redacted]', accessKeyId: 'test-access-key-id' },
      lake: { oss: { accessKeySecret: '[Redacted]', securityToken: null } },
    });
  });
});

describe('loadLakeConnection (inspect, compact, vacuum)', () => {
  it('turns a local path or file:// URI into a file lake that needs no settings', () => {
    expect(loadLakeConnection('lake/orders', { env: {} })).toEqual({ uri: pathToFileURL(join(process.cwd(), 'lake/orders')).href, oss: null });
    expect(loadLakeConnection('file:///data/lake/orders', { env: {} })).toEqual({ uri: 'file:///data/lake/orders', oss: null });
  });

  it('reads the OSS settings from the daemon keys: the file and OTSLAKE_LAKE_OSS_* (env wins), nothing else required', () => {
    const path = join(dir, 'otslake.yaml');
    writeFileSync(
      path,
      ['source: { endpoint: "http://127.0.0.1:8780" }', 'lake:', '  oss: { endpoint: "http://127.0.0.1:9000", accessKeyId: file-id }'].join('\n'),
    );
    const conn = loadLakeConnection('oss://bkt/lake/orders', {
      configPath: path,
      env: { OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET: 's', OTSLAKE_LAKE_OSS_ACCESS_KEY_ID: 'env-id' },
    });
    expect(conn).toEqual({
      uri: 'oss://bkt/lake/orders',
      oss: { endpoint: 'http://127.0.0.1:9000', region: null, accessKeyId: 'env-id', accessKeySecret: 's', securityToken: null, pathStyle: false },
    });
  });

  it('names what is missing instead of trying a default endpoint', () => {
    expect(problemsOf(() => loadLakeConnection('oss://bkt/t', { env: { OTSLAKE_LAKE_OSS_ACCESS_KEY_ID: 'id\r' } }))).toEqual([
      'lake.oss.accessKeyId: ends with a carriage return (\\r), as lines of a file with Windows line endings do: remove it, got "id\\r" (from OTSLAKE_LAKE_OSS_ACCESS_KEY_ID)',
      'lake.oss.endpoint: is required to open oss://bkt/t (or set OTSLAKE_LAKE_OSS_ENDPOINT)',
      'lake.oss.accessKeySecret: is required to open oss://bkt/t (or set OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET)',
    ]);
    expect(problemsOf(() => loadLakeConnection('s3://bkt/t', { env: {} }))).toEqual([
      ': "s3://bkt/t" must be file:///absolute/path, a local path or oss://bucket/prefix',
    ]);
  });
});
