/**
 * `bin/otslake inspect` spawned as a user runs it (compiled CLI), on a kernel conformance table
 * and on a small table written here.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeActions } from '../../lake/actions.js';
import { LocalStore } from '../../lake/local-store.js';
import { commitKey } from '../../lake/log-path.js';
import { KERNEL_DATA, makeTempDir, removeDir } from './unpack.js';
import { optionalData } from '../helpers/conformance-data.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'otslake');
const TABLE = path.join(KERNEL_DATA, 'app-txn-checkpoint');

const run = promisify(execFile);

async function inspect(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'inspect', ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(optionalData('otslake inspect on a kernel table (test/conformance/inspect.test.ts)', [TABLE]))('otslake inspect', () => {
  let tmp: string;
  beforeAll(() => {
    // bin/otslake runs dist/, built once by test/global-setup.ts.
    tmp = makeTempDir('otsl-inspect-');
  }, 130_000);
  afterAll(() => removeDir(tmp));

  it('--json prints exactly the documented keys with the table figures', async () => {
    const { code, stdout } = await inspect(TABLE, '--json');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(
      ['iceberg', 'minReaderVersion', 'minWriterVersion', 'numFiles', 'numRecords', 'partitionColumns', 'schema', 'sizeBytes', 'txns', 'version'].sort(),
    );
    expect(out).toMatchObject({
      version: 1,
      minReaderVersion: 1,
      minWriterVersion: 2,
      partitionColumns: ['modified'],
      numFiles: 4,
      numRecords: 22,
      sizeBytes: 3198,
      txns: { 'my-app': 3, 'my-app2': 2 },
    });
    expect((out.schema as { fields: { name: string }[] }).fields.map((f) => f.name)).toEqual(['id', 'value', 'modified']);
  });

  it('--version time travels and file:// URIs work', async () => {
    const { code, stdout } = await inspect(pathToFileURL(TABLE).href, '--version', '0', '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ version: 0, numFiles: 2, numRecords: 11, txns: { 'my-app': 1 } });
  });

  it('human-readable output, with "unknown" records when a file has no stats', async () => {
    const table = path.join(tmp, 'nostats');
    const store = new LocalStore(table);
    const schemaString = JSON.stringify({ type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] });
    await store.put(
      commitKey(0),
      encodeActions([
        { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
        { metaData: { id: 't', format: { provider: 'parquet' }, schemaString, partitionColumns: [], configuration: {} } },
        { add: { path: 'a.parquet', partitionValues: {}, size: 10, modificationTime: 1, dataChange: true, stats: '{"numRecords":3}' } },
        { add: { path: 'b.parquet', partitionValues: {}, size: 20, modificationTime: 1, dataChange: true } },
      ]),
    );
    const { code, stdout } = await inspect(table);
    expect(code).toBe(0);
    expect(stdout).toMatch(/version:\s+0/);
    expect(stdout).toMatch(/files:\s+2/);
    expect(stdout).toMatch(/records:\s+unknown/);
    expect(stdout).toMatch(/size:\s+30 bytes/);
    expect(stdout).toContain('id: long');
    const json = JSON.parse((await inspect(table, '--json')).stdout) as { numRecords: unknown };
    expect(json.numRecords).toBeNull();
  });

  it('fails clearly: not a table (exit 1), bad arguments (exit 2)', async () => {
    const missing = await inspect(path.join(tmp, 'nothing-here'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('OTSL_LAKE_NOT_A_TABLE');
    const badVersion = await inspect(TABLE, '--version', 'x');
    expect(badVersion.code).toBe(2);
    expect(badVersion.stderr).toContain('--version');
    const future = await inspect(TABLE, '--version', '99');
    expect(future.code).toBe(1);
    expect(future.stderr).toContain('OTSL_LAKE_NOT_FOUND');
  });
});
