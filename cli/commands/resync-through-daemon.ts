/**
 * `otslake resync` on a host where the daemon of the same config runs: the daemon resyncs the table itself
 * (POST /tables/NAME/resync on its HTTP server, accepted from this host only), so its other tables go on, and
 * the command follows the resync in /status until it ends. No daemon listening, or one that does not run
 * this table, and the command resyncs by itself (it refuses if any client still reads the table's tunnel).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ResolvedConfig } from '../../config/load.js';
import type { ResyncRecord } from '../../daemon/table-resyncs.js';

export type DaemonResync =
  { kind: 'no-daemon' } | { kind: 'refused'; status: number; message: string } | { kind: 'ended'; record: ResyncRecord } | { kind: 'lost'; message: string };

const POLL_MS = 1_000;

function daemonUrl(config: ResolvedConfig): string | null {
  const { host, port } = config.http;
  if (port === 0) return null;
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
}

export async function resyncThroughDaemon(config: ResolvedConfig, table: string, onStarted: () => void): Promise<DaemonResync> {
  const base = daemonUrl(config);
  if (base === null) return { kind: 'no-daemon' };
  let res: Response;
  try {
    res = await fetch(`${base}/tables/${encodeURIComponent(table)}/resync`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  } catch {
    return { kind: 'no-daemon' }; // nothing listens there
  }
  const body = await res.text();
  // 404: the daemon does not run this table (or the listener is not an otslake daemon); 405: one without the endpoint.
  if (res.status === 404 || res.status === 405) return { kind: 'no-daemon' };
  if (res.status !== 202) return { kind: 'refused', status: res.status, message: messageOf(body) };
  onStarted();
  for (;;) {
    await delay(POLL_MS);
    let record: ResyncRecord | null | undefined;
    try {
      const status = (await (await fetch(`${base}/status`, { signal: AbortSignal.timeout(10_000) })).json()) as {
        tables?: { table?: string; path?: string; resync?: ResyncRecord | null }[];
      };
      record = status.tables?.find((t) => t.table === table || t.path === table)?.resync;
    } catch (err) {
      return { kind: 'lost', message: `the daemon stopped answering at ${base}/status (${(err as Error).message}); its log says how the resync ended` };
    }
    if (record && record.state !== 'resyncing') return { kind: 'ended', record };
  }
}

function messageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: string; message?: string };
    return parsed.error ? `${parsed.error}: ${parsed.message ?? ''}` : body.trim();
  } catch {
    return body.trim();
  }
}
