import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../config/config-error.js';
import { loadConfig, redactedConfig, resolveConfig } from '../../../config/load.js';
import { defaultWorkerThreads } from '../../../config/schema.js';
import { testConfig } from '../../helpers/test-config.js';

const dir = mkdtempSync(join(tmpdir(), 'otslake-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const MINIMAL = { source: { endpoint: 'https://inst.cn-hangzhou.ots.aliyuncs.com', instance: 'inst' } };
const SECRETS = { OTSLAKE_SOURCE_ACCESS_KEY_ID: 'AKID', OTSLAKE_SOURCE_ACCESS_KEY_SECRET: 'very-secret-value' };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('OTSL_CONFIG_INVALID');
    return (err as ConfigError).issues.map((i) => `${i.key}: ${i.problem}`);
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('resolves a minimal file with defaults that work, in numbers', () => {
    const cfg = loadConfig(write('min.json', JSON.stringify(MINIMAL)), SECRETS);
    expect(cfg.source.accessKeySecret).toBe('very-secret-value');
    expect(cfg.source.securityToken).toBeNull();
    expect(cfg.lake.location).toEqual({ kind: 'file', path: '/var/lib/otslake/lake' });
    expect(cfg.lake.oss).toBeNull();
    expect(cfg.http).toEqual({ host: '127.0.0.1', port: 9780 });
    expect(cfg.batch.intervalMs).toBe(30_000);
    expect(cfg.batch.maxBytesPerChannel).toBe(64 * 1024 * 1024);
    expect(cfg.workers.threads).toBe(defaultWorkerThreads());
    expect(cfg.workers.threads).toBeGreaterThanOrEqual(1);
    expect(cfg.tables).toEqual([]);
  });

  it('reads YAML by extension, with human durations and sizes', () => {
    const path = write(
      'c.yaml',
      [
        'source: { endpoint: "http://127.0.0.1:8780", instance: i }',
        'batch: { intervalMs: 5s, maxBytesPerChannel: 1MiB }',
        'tables:',
        '  - table: orders',
        '    columns: [{ name: amount, type: DOUBLE }]',
      ].join('\n'),
    );
    const cfg = loadConfig(path, SECRETS);
    expect(cfg.batch.intervalMs).toBe(5_000);
    expect(cfg.batch.maxBytesPerChannel).toBe(1_048_576);
    expect(cfg.tables[0]).toEqual({
      table: 'orders',
      tunnel: { name: expect.stringMatching(/^otslake-orders-[0-9a-f]{8}$/), type: 'BaseAndStream' },
      mode: 'changelog',
      path: 'orders',
      columns: [{ name: 'amount', type: 'DOUBLE' }],
      select: { include: [], exclude: [], rename: {} },
      partitionBy: [],
      retentionMs: 0,
      metadataPrefix: '_',
      iceberg: true,
    });
  });

  it('lets the environment override the file, coercing types', () => {
    const path = write('env.json', JSON.stringify({ ...MINIMAL, http: { port: 1234 } }));
    const cfg = loadConfig(path, { ...SECRETS, OTSLAKE_HTTP_PORT: '4321', OTSLAKE_BATCH_MAX_DURATION_MS: '2m', OTSLAKE_LAKE_OSS_SLD_ENABLE: 'true' });
    expect(cfg.http.port).toBe(4321);
    expect(cfg.batch.maxDurationMs).toBe(120_000);
  });

  it('returns a deep-frozen object', () => {
    const cfg = testConfig();
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.tables[0]!.tunnel)).toBe(true);
    expect(() => {
      (cfg.http as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('names unknown keys by path, in the file and among OTSLAKE_ variables', () => {
    const issues = issuesOf(() =>
      resolveConfig(
        { ...MINIMAL, source: { ...MINIMAL.source, endpiont: 'x' }, lake: { oss: { bucket: 'b' } }, extra: 1 },
        { ...SECRETS, OTSLAKE_HTTP_PROT: '1' },
      ),
    );
    expect(issues).toContain(
      'source.endpiont: unknown key (allowed here: endpoint, instance, accessKeyId, accessKeySecret, securityToken, requestTimeoutMs, heartbeatIntervalMs, heartbeatTimeoutMs, streamRetentionMs, retentionWarningPercent, retentionCriticalPercent, maxChannelsPerTable)',
    );
    expect(issues.some((i) => i.startsWith('lake.oss.bucket: unknown key'))).toBe(true);
    expect(issues.some((i) => i.startsWith('extra: unknown key'))).toBe(true);
    expect(issues.some((i) => i.startsWith('OTSLAKE_HTTP_PROT: environment variable is not a configuration key'))).toBe(true);
  });

  it('names each bad table entry by index and field', () => {
    const issues = issuesOf(() =>
      resolveConfig(
        {
          ...MINIMAL,
          tables: [
            { table: 'orders' },
            { table: 'items', mode: 'append', tunnel: { type: 'Full' }, colour: 'red' },
            { table: '9bad', path: '../up' },
            { table: 'dup', path: 'orders' },
            {
              table: 'cols',
              columns: [
                { name: '_op', type: 'STRING' },
                { name: 'a', type: 'TEXT' },
                { name: 'a', type: 'STRING' },
              ],
            },
            'not-an-object',
          ],
        },
        SECRETS,
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'tables[1].mode: must be one of changelog, mirror, got "append"',
        'tables[1].tunnel.type: must be one of BaseData, Stream, BaseAndStream, got "Full"',
        'tables[1].colour: unknown key (allowed here: table, tunnel, mode, path, columns, select, partitionBy, metadataPrefix, retention, typeConflictPolicy, iceberg, changeDataFeed, mirror)',
        'tables[2].table: must be a Tablestore table name: letters, digits and "_", not starting with a digit, got "9bad"',
        'tables[3].path: "orders" is already used by tables[0]',
        'tables[4].columns[0].name: "_op" is reserved for otslake\'s metadata columns (_op, _ts, _seq, _channel, _deleted_columns, _date); to land a source column of this name, set metadataPrefix (e.g. "otslake_")',
        'tables[4].columns[1].type: must be one of INTEGER, DOUBLE, BOOLEAN, STRING, BINARY, got "TEXT"',
        'tables[4].columns[2].name: column "a" is declared twice',
        'tables[5]: must be an object with keys table, tunnel, mode, path, columns, select, partitionBy, metadataPrefix, retention, typeConflictPolicy, iceberg, changeDataFeed, mirror',
      ]),
    );
    expect(issues.some((i) => i.startsWith('tables[2].path: segment ".." is not allowed'))).toBe(true);
  });

  it('requires the OSS settings when the lake is on OSS', () => {
    const issues = issuesOf(() => resolveConfig({ ...MINIMAL, lake: { uri: 'oss://my-bucket/lake' } }, SECRETS));
    expect(issues).toEqual([
      'lake.oss.endpoint: is required when lake.uri is oss:// (or set OTSLAKE_LAKE_OSS_ENDPOINT)',
      'lake.oss.accessKeyId: is required when lake.uri is oss:// (or set OTSLAKE_LAKE_OSS_ACCESS_KEY_ID)',
      'lake.oss.accessKeySecret: is required when lake.uri is oss:// (or set OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET)',
    ]);
    const cfg = resolveConfig(
      { ...MINIMAL, lake: { uri: 'oss://my-bucket/lake/', oss: { endpoint: 'http://127.0.0.1:9000', sldEnable: true } } },
      { ...SECRETS, OTSLAKE_LAKE_OSS_ACCESS_KEY_ID: 'id', OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET: 'oss-secret' },
    );
    expect(cfg.lake.location).toEqual({ kind: 'oss', bucket: 'my-bucket', prefix: 'lake' });
    expect(cfg.lake.oss).toMatchObject({ endpoint: 'http://127.0.0.1:9000', region: null, sldEnable: true, accessKeySecret: 'oss-secret' });
  });

  it('says what is wrong with values, and where an env value came from', () => {
    const issues = issuesOf(() =>
      resolveConfig(
        { ...MINIMAL, lake: { uri: 's3://x/y' }, batch: { intervalMs: 'soon' }, log: { level: 'loud' } },
        { ...SECRETS, OTSLAKE_WORKERS_THREADS: '0' },
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'lake.uri: must be file:///absolute/path or oss://bucket/prefix, got "s3://x/y"',
        'batch.intervalMs: must be a duration such as 500ms, 30s, 5m, 7d, or a whole number of milliseconds, got "soon"',
        'log.level: must be one of debug, info, warn, error, silent, got "loud"',
        'workers.threads: must be a whole number ≥ 1 (from OTSLAKE_WORKERS_THREADS)',
      ]),
    );
  });

  it('names a stray CR or space around a key (an env file with Windows line endings), never echoing a secret', () => {
    const issues = issuesOf(() => resolveConfig(MINIMAL, { OTSLAKE_SOURCE_ACCESS_KEY_ID: 'AKID ', OTSLAKE_SOURCE_ACCESS_KEY_SECRET: 'very-secret-value\r' }));
    expect(issues).toEqual([
      'source.accessKeyId: has leading or trailing whitespace: remove it, got "AKID " (from OTSLAKE_SOURCE_ACCESS_KEY_ID)',
      'source.accessKeySecret: ends with a carriage return (\\r), as lines of a file with Windows line endings do: remove it (from OTSLAKE_SOURCE_ACCESS_KEY_SECRET)',
    ]);
    const oss = issuesOf(() =>
      resolveConfig(
        { ...MINIMAL, lake: { uri: 'oss://bkt/lake', oss: { endpoint: 'http://127.0.0.1:9000\r' } } },
        { ...SECRETS, OTSLAKE_LAKE_OSS_ACCESS_KEY_ID: '\toid', OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET: 'oss-secret\r' },
      ),
    );
    expect(oss).toEqual([
      'lake.oss.endpoint: ends with a carriage return (\\r), as lines of a file with Windows line endings do: remove it, got "http://127.0.0.1:9000\\r"',
      'lake.oss.accessKeyId: has leading or trailing whitespace: remove it, got "\\toid" (from OTSLAKE_LAKE_OSS_ACCESS_KEY_ID)',
      'lake.oss.accessKeySecret: ends with a carriage return (\\r), as lines of a file with Windows line endings do: remove it (from OTSLAKE_LAKE_OSS_ACCESS_KEY_SECRET)',
    ]);
    expect(oss.join('\n')).not.toContain('oss-secret');
  });

  it('checks OTSLAKE_ variables in the namespaces of its groups only: a test variable does not stop the daemon', () => {
    expect(() => resolveConfig(MINIMAL, { ...SECRETS, OTSLAKE_CRASH_SEED: '42', OTSLAKE_CHDB_MODULE: '/x' })).not.toThrow();
    expect(issuesOf(() => resolveConfig(MINIMAL, { ...SECRETS, OTSLAKE_LAKE_URL: 'file:///x', OTSLAKE_TABLES: '[]' }))).toEqual([
      'OTSLAKE_LAKE_URL: environment variable is not a configuration key (see docs/configuration.md)',
      'OTSLAKE_TABLES: tables cannot be set through the environment: list them in the file',
    ]);
  });

  it('reports missing required keys with the variable to set', () => {
    const issues = issuesOf(() => resolveConfig({}, {}));
    expect(issues).toEqual(
      expect.arrayContaining([
        'source.endpoint: is required: set an http:// or https:// URL in the file (or OTSLAKE_SOURCE_ENDPOINT)',
        'source.accessKeySecret: is required: set it in the file or through OTSLAKE_SOURCE_ACCESS_KEY_SECRET',
      ]),
    );
  });

  it('never puts a secret into an error', () => {
    try {
      resolveConfig(
        { ...MINIMAL, source: { ...MINIMAL.source, accessKeySecret: 987654321 }, lake: { oss: { securityToken: 424242 } } },
        { OTSLAKE_SOURCE_ACCESS_KEY_ID: 'AKID' },
      );
      expect.unreachable();
    } catch (err) {
      const text = JSON.stringify({ ...(err as ConfigError), message: (err as Error).message });
      expect(text).toContain('source.accessKeySecret');
      expect(text).not.toContain('987654321');
      expect(text).not.toContain('424242');
    }
  });

  it('fails clearly on unreadable, malformed or unknown-format files', () => {
    expect(issuesOf(() => loadConfig(join(dir, 'absent.json'), SECRETS))).toEqual([': cannot be read: no such file']);
    expect(issuesOf(() => loadConfig(write('bad.json', '{"source": {,}}'), SECRETS))[0]).toMatch(/^: is not valid JSON: /);
    expect(issuesOf(() => loadConfig(write('bad.yaml', 'source: [1,\n b: 2'), SECRETS))[0]).toMatch(/^: is not valid YAML: /);
    expect(issuesOf(() => loadConfig(write('c.toml', 'a=1'), SECRETS))).toEqual([': has extension ".toml"; use .json, .yaml or .yml']);
    expect(issuesOf(() => loadConfig(write('arr.json', '[1]'), SECRETS))).toEqual([': must be an object at the top level']);
  });

  it('the error message names the file and each key', () => {
    const path = write('two.json', JSON.stringify({ ...MINIMAL, tables: [{ table: 'a', mode: 'x' }] }));
    expect(() => loadConfig(path, SECRETS)).toThrow(`configuration ${path}: tables[0].mode: must be one of changelog, mirror`);
  });
});

describe('redactedConfig', () => {
  it('masks every secret that is set and keeps the rest', () => {
    const cfg = testConfig({
      source: { securityToken: 'sts-token-value' },
      lake: { uri: 'oss://bkt/p', oss: { endpoint: 'http://127.0.0.1:9000', accessKeyId: 'oid', accessKeySecret: 'oss-secret-value' } },
    });
    const red = redactedConfig(cfg);
    const text = JSON.stringify(red);
    for (const secret of ['test-access-key-secret', 'sts-token-value', 'oss-secret-value']) expect(text).not.toContain(secret);
    expect(red).toMatchObject({ source: { accessKeySecret: '[Redacted]', securityToken: '[Redacted]', accessKeyId: 'test-access-key-id' } });
    expect((red.lake as { oss: { securityToken: unknown } }).oss.securityToken).toBeNull();
    expect(cfg.source.accessKeySecret).toBe('test-access-key-secret');
  });
});

describe('testConfig', () => {
  it('merges overrides through the same validation', () => {
    expect(testConfig({ batch: { intervalMs: '2s' } }).batch.intervalMs).toBe(2_000);
    expect(() => testConfig({ tables: [{ table: 'x', mode: 'nope' }] })).toThrow(/tables\[0\]\.mode: must be one of changelog, mirror/);
  });
});

describe('tunnel heartbeat settings', () => {
  it('default to a 10 s interval and a 60 s client timeout, and the timeout must exceed the interval', () => {
    const cfg = testConfig();
    expect(cfg.source.heartbeatIntervalMs).toBe(10_000);
    expect(cfg.source.heartbeatTimeoutMs).toBe(60_000);
    expect(() => testConfig({ source: { heartbeatIntervalMs: '30s', heartbeatTimeoutMs: '20s' } })).toThrow(
      /source\.heartbeatTimeoutMs: must be longer than source\.heartbeatIntervalMs/,
    );
  });
});
