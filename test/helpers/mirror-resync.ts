/**
 * What the mirror resync tests share: the `orders` mirror table's config (in-process and as a file for an
 * `otslake` process), the source read through the official SDK (GetRange), the lake read by chdb, the RESYNC
 * commit and its Change Data Feed.
 */
import { createRequire } from 'node:module';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResolvedConfig } from '../../config/load.js';
import { openTunnelClient } from '../../daemon/connections.js';
import { readDeltaTable } from './chdb.js';
import { TABLE, type Harness } from './daemon-harness.js';

const SDK = createRequire(import.meta.url)('tablestore') as { Direction: { FORWARD: unknown }; INF_MIN: unknown; INF_MAX: unknown };

export interface MirrorRow {
  id: number;
  name: string | null;
  qty: number | null;
}

function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  return (v as { toNumber(): number }).toNumber();
}

export function mirrorRowOf(r: Record<string, unknown>): MirrorRow {
  return {
    id: numberOf(r.id),
    name: (r.name as string | null | undefined) ?? null,
    qty: r.qty === null || r.qty === undefined ? null : numberOf(r.qty),
  };
}

/** The `tables` entry of the mirror (CDF on, 4 buckets). */
export function mirrorTable(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    table: TABLE,
    tunnel: { name: 'otslake-orders', type: 'BaseAndStream' },
    mode: 'mirror',
    path: 'orders',
    columns: [
      { name: 'name', type: 'STRING' },
      { name: 'qty', type: 'INTEGER' },
    ],
    changeDataFeed: true,
    mirror: { buckets: 4 },
    ...extra,
  };
}

export function mirrorConfig(h: Harness, overrides: Record<string, unknown> = {}): ResolvedConfig {
  return h.config({ tables: [mirrorTable()], maintenance: { vacuum: { enabled: false } }, ...overrides });
}

/** The same config as a file for `otslake` processes (resync, run). */
export function mirrorConfigFile(h: Harness, overrides: Record<string, unknown> = {}): Promise<string> {
  return h.writeConfigFile({
    lake: { uri: pathToFileURL(h.lake.path).href },
    tables: [mirrorTable()],
    batch: { intervalMs: 100, maxDurationMs: 2_000 },
    workers: { threads: 2 },
    maintenance: { vacuum: { enabled: false } },
    log: { level: 'info' },
    ...overrides,
  });
}

/** The source table through the official SDK: GetRange over the whole key range, every page. */
export async function sourceRows(h: Harness): Promise<MirrorRow[]> {
  const sdk = h.sdk as unknown as { getRange(p: Record<string, unknown>): Promise<Record<string, unknown>> };
  const out: MirrorRow[] = [];
  let start: unknown = [{ id: SDK.INF_MIN }];
  while (start) {
    const page = (await sdk.getRange({
      tableName: TABLE,
      direction: SDK.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: [{ id: SDK.INF_MAX }],
      limit: 1000,
    })) as { rows: { primaryKey: { value: unknown }[]; attributes: { columnName: string; columnValue: unknown }[] }[]; nextStartPrimaryKey: unknown };
    for (const r of page.rows) {
      const row: MirrorRow = { id: numberOf(r.primaryKey[0]!.value), name: null, qty: null };
      for (const a of r.attributes) {
        if (a.columnName === 'name') row.name = a.columnValue as string;
        if (a.columnName === 'qty') row.qty = numberOf(a.columnValue);
      }
      out.push(row);
    }
    start = page.nextStartPrimaryKey;
  }
  return out.sort((a, b) => a.id - b.id);
}

/** The mirror as chdb reads it (latest, or at `version`). */
export async function lakeRows(tablePath: string, version?: number): Promise<MirrorRow[]> {
  return (await readDeltaTable(tablePath, { select: 'id, name, qty', orderBy: 'id', ...(version === undefined ? {} : { version }) })).map(mirrorRowOf);
}

export interface ResyncCommit {
  version: number;
  tunnelId: string;
  previousTunnelId: string;
}

/** Every RESYNC commit of the table, oldest first. */
export async function resyncCommits(tablePath: string): Promise<ResyncCommit[]> {
  const out: ResyncCommit[] = [];
  for (const f of (await readdir(join(tablePath, '_delta_log'))).filter((n) => n.endsWith('.json')).sort()) {
    const lines = (await readFile(join(tablePath, '_delta_log', f), 'utf8')).split('\n').filter(Boolean);
    for (const line of lines) {
      const info = (JSON.parse(line) as { commitInfo?: { operation: string; operationParameters: { tunnelId: string; previousTunnelId: string } } }).commitInfo;
      if (info?.operation === 'RESYNC') {
        out.push({ version: Number(f.slice(0, 20)), tunnelId: info.operationParameters.tunnelId, previousTunnelId: info.operationParameters.previousTunnelId });
      }
    }
  }
  return out;
}

/** The Change Data Feed of one version as chdb (delta-kernel table_changes) reads it: `<type>:<id>:<name>:<qty>`, sorted. */
export async function changesAt(tablePath: string, version: number): Promise<string[]> {
  const rows = await readDeltaTable(tablePath, { select: 'id, name, qty, _change_type', changes: { from: version, to: version } });
  return rows
    .map((r) => {
      const m = mirrorRowOf(r);
      return `${String(r._change_type)}:${m.id}:${m.name}:${m.qty}`;
    })
    .sort();
}

/** The tunnels of the source table (id and name). */
export async function tunnelsOf(h: Harness): Promise<{ id: string; name: string }[]> {
  const client = openTunnelClient(h.config());
  try {
    return (await client.listTunnel({ table_name: TABLE })).tunnels.map((t) => ({ id: t.tunnel_id, name: t.tunnel_name ?? '' }));
  } finally {
    client.close();
  }
}

/** Deletes a tunnel behind the daemon's back. */
export async function deleteTunnel(h: Harness, id: string, name: string): Promise<void> {
  const client = openTunnelClient(h.config());
  try {
    await client.deleteTunnel({ table_name: TABLE, tunnel_name: name, tunnel_id: id });
  } finally {
    client.close();
  }
}
