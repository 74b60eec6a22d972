/**
 * `otslake compact` and `otslake vacuum` as an operator runs them (the compiled CLI, built by the
 * global setup): dry run by default, --execute to act, exit 2 for usage mistakes, 1 for lake errors.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StructType } from '../../lake/actions.js';
import { LocalStore } from '../../lake/local-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { createTable } from '../../lake/table-create.js';
import { addActionFor, commit } from '../../lake/transaction.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/otslake');
const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'v', type: 'string', nullable: true, metadata: {} },
  ],
};

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'otslake-maint-cli-'));
  const store = new LocalStore(dir, { fsync: false });
  await createTable(store, { schema: SCHEMA });
  for (let version = 0; version < 4; version++) {
    const files = await writeParquetFiles([{ id: BigInt(version), v: `row-${version}` }], { store, columns: dataColumnsOf(SCHEMA) });
    const r = await commit(
      store,
      files.map((f) => addActionFor(f)),
      { readVersion: version, operation: 'WRITE' },
    );
    if (r.kind !== 'committed') throw new Error(r.reason);
  }
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('otslake compact / vacuum (CLI)', () => {
  it('compact plans by default and commits only with --execute', async () => {
    const dry = await cli('compact', dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry run at version 4; would rewrite 1 bin/);
    expect((await loadSnapshot(new LocalStore(dir))).version).toBe(4);

    const done = await cli('compact', dir, '--execute');
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/committed version 5: removed 4 files, added 1/);
    expect((await loadSnapshot(new LocalStore(dir))).files.size).toBe(1);
  });

  it('vacuum reports without deleting by default; a short retention needs its flag', async () => {
    await cli('compact', dir, '--execute');
    const refused = await cli('vacuum', dir, '--retention', '0s');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('OTSL_CONFIG_INVALID');

    const dry = await cli('vacuum', dir, '--retention', '0s', '--allow-short-retention', '--json');
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout) as { dryRun: boolean; files: unknown[] };
    expect(planned).toMatchObject({ dryRun: true });
    expect(planned.files).toHaveLength(4); // the four compacted-away files

    const done = await cli('vacuum', dir, '--retention', '0s', '--allow-short-retention', '--execute');
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/deleted 4 files/);
    expect((await cli('vacuum', dir, '--retention', '0s', '--allow-short-retention')).stdout).toMatch(/would delete 0 files/);
  });

  it('exit 2 for usage mistakes, 1 when the URI is not a table', async () => {
    expect((await cli('compact', dir, '--target-size', 'lots')).code).toBe(2);
    expect((await cli('vacuum', dir, '--retention', 'soon')).code).toBe(2);
    expect((await cli('vacuum', dir, '--bogus')).code).toBe(2);
    expect((await cli('compact')).code).toBe(2);
    const missing = await cli('compact', path.join(dir, 'no-table-here'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('OTSL_LAKE_NOT_A_TABLE');
  });
});
