/**
 * testConfig(overrides): a valid ResolvedConfig for tests, built through the same validation as a
 * config file so that tests cannot construct a config the daemon would refuse.
 */
import { resolveConfig, type Env, type ResolvedConfig } from '../../config/load.js';

type Overrides = { [key: string]: unknown };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Objects merge key by key; lists and scalars replace. */
function merge(base: Record<string, unknown>, over: Overrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? merge(b, v) : v;
  }
  return out;
}

const BASE = {
  source: {
    endpoint: 'http://127.0.0.1:8780',
    instance: 'otslake-test',
    accessKeyId: 'test-access-key-id',
    accessKeySecret: 'test-access-key-secret',
  },
  lake: { uri: 'file:///tmp/otslake-test-lake' },
  tables: [{ table: 'orders', tunnel: { name: 'otslake-orders', type: 'BaseAndStream' }, mode: 'changelog', path: 'orders' }],
  batch: { intervalMs: 1_000, maxDurationMs: 1_000 },
  workers: { threads: 1 },
  http: { port: 0 },
  log: { level: 'silent' },
};

/**
 * `overrides` uses the file's shape (durations may be '5s'); e.g.
 * `testConfig({ lake: { uri: pathToFileURL(dir).href } })`.
 */
export function testConfig(overrides: Overrides = {}, env: Env = {}): ResolvedConfig {
  return resolveConfig(merge(BASE, overrides), env, 'testConfig()');
}
