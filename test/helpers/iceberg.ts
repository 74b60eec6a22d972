/**
 * Iceberg read-back for tests: the newest metadata of a local table, the snapshot that mirrors a Delta
 * version, the field ids of a data file, and the check that chdb's Iceberg reader (icebergLocal) and delta-kernel-rs
 * (deltaLakeLocal) return the same rows at each listed Delta version.
 */
import { readFile } from 'node:fs/promises';
import { parquetMetadata, parquetSchema } from 'hyparquet';
import path from 'node:path';
import { expect } from 'vitest';
import type { TableMetadata } from '../../lake/iceberg/table-metadata.js';
import { deltaSql, icebergSql, runChdb } from './chdb.js';

export async function icebergMetadata(dir: string): Promise<TableMetadata> {
  const hint = (await readFile(path.join(dir, 'metadata', 'version-hint.text'), 'utf8')).trim();
  return JSON.parse(await readFile(path.join(dir, 'metadata', `v${hint}.metadata.json`), 'utf8')) as TableMetadata;
}

/** [name, Parquet field_id] of a data file's top-level columns, in file order (what Iceberg readers resolve columns by). */
export function parquetFieldIds(bytes: Uint8Array): [string, number | undefined][] {
  const footer = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return parquetSchema(footer).children.map((c) => [c.element.name, c.element.field_id]);
}

/** The Iceberg snapshot that mirrors Delta version `v`: the newest whose Delta version is at most v. */
export function snapshotFor(metadata: TableMetadata, v: number): number | null {
  let best: { id: number; dv: number } | null = null;
  for (const s of metadata.snapshots) {
    const dv = Number(s.summary['otslake.delta.version']);
    if (dv <= v && (best === null || dv > best.dv)) best = { id: s['snapshot-id'], dv };
  }
  return best?.id ?? null;
}

/** Every listed Delta version read by both readers (Iceberg through the mirroring snapshot). */
export async function expectSameAtEveryVersion(
  dir: string,
  versions: readonly number[],
  q: { where?: string; select?: string; orderBy?: string } = {},
): Promise<void> {
  const metadata = await icebergMetadata(dir);
  const sqls: string[] = [];
  const withSnapshot: (number | null)[] = [];
  for (const v of versions) {
    const snapshotId = snapshotFor(metadata, v);
    withSnapshot.push(snapshotId);
    sqls.push(deltaSql(dir, { version: v, orderBy: 'id', ...q }));
    if (snapshotId !== null) sqls.push(icebergSql(dir, { snapshotId, orderBy: 'id', ...q }));
  }
  const out = await runChdb(sqls);
  let i = 0;
  for (const [n, v] of versions.entries()) {
    const delta = out[i++]!;
    expect(delta, `delta v${v}`).toMatchObject({ ok: true });
    if (withSnapshot[n] === null) {
      expect((delta as { rows: unknown[] }).rows, `delta v${v} has rows but no Iceberg snapshot mirrors it`).toEqual([]);
      continue;
    }
    const iceberg = out[i++]!;
    expect(iceberg, `iceberg at delta v${v}`).toMatchObject({ ok: true });
    expect((iceberg as { rows: unknown[] }).rows, `rows at delta v${v}`).toEqual((delta as { rows: unknown[] }).rows);
    expect((delta as { rows: unknown[] }).rows.length + (q.where ? 1 : 0), `v${v} is not empty`).toBeGreaterThan(0);
  }
}
