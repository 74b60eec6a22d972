/**
 * The whole daemon on one machine: tablestore-local (HTTP), the daemon with real worker threads,
 * a local lake. Rows are written with the official SDK before the tunnel exists (the full-snapshot
 * stage), then `run --until-idle` semantics: time from Daemon.run() to its 'idle' event, which
 * includes tunnel creation, table creation, every batch, commit and checkpoint.
 *
 * Reference, same run, same table: a bare TunnelClient reading the base channels of a second tunnel
 * to "finished" without decoding anything (the floor any consumer pays for ReadRecords over HTTP).
 *
 *   npx tsx bench/daemon-ingest.ts [--rows 20000] [--threads 1]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { testConfig } from '../test/helpers/test-config.js';
import { buildDaemon } from '../daemon/main.js';
import { startTablestoreEmulator } from '../emulator/tablestore/index.js';
import { benchSdkClient, createOrdersTable, preloadOrders } from './orders-load.js';
import { TunnelClient } from '../tunnel/tunnel-client.js';
import { TunnelSession } from '../tunnel/tunnel-session.js';
import { FINISHED_TOKEN, TunnelType } from '../tunnel/proto.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '20000' }, threads: { type: 'string', default: '1' } } });
const ROWS = Number(values.rows);
const THREADS = Number(values.threads);
const CREDS = { instance: 'bench', accessKeyId: 'bench-ak', accessKeySecret: 'bench-secret' };

const dir = await mkdtemp(join(tmpdir(), 'otslake-bench-daemon-'));
const emu = await startTablestoreEmulator({
  port: 0,
  ...CREDS,
  dataDir: join(dir, 'ts'),
  partitionsPerTable: 2,
  tunnel: { initDelayMs: 0, sweepIntervalMs: 0 },
});
try {
  const sdk = benchSdkClient(emu.endpoint, CREDS);
  await createOrdersTable(sdk, 'orders');
  await preloadOrders(sdk, 'orders', ROWS);

  // The daemon, until idle.
  const config = testConfig({
    source: { endpoint: emu.endpoint, ...CREDS },
    lake: { uri: pathToFileURL(join(dir, 'lake')).href },
    tables: [{ table: 'orders', tunnel: { name: 'otslake-orders', type: 'BaseAndStream' }, path: 'orders' }],
    batch: { intervalMs: '100ms', maxDurationMs: '20s' },
    workers: { threads: THREADS },
  });
  const { daemon, close } = buildDaemon(config, { http: false });
  const t0 = performance.now();
  const done = daemon.run();
  await once(daemon, 'idle');
  const daemonMs = performance.now() - t0;
  daemon.shutdown('bench');
  await done;
  close();

  // Reference: ReadRecords only, on a second tunnel.
  const client = new TunnelClient({
    endpoint: emu.endpoint,
    instanceName: CREDS.instance,
    accessKeyId: CREDS.accessKeyId,
    accessKeySecret: CREDS.accessKeySecret,
  });
  const { tunnel_id } = await client.createTunnel({ tunnel: { table_name: 'orders', tunnel_name: 'reference', tunnel_type: TunnelType.BaseData } });
  const session = new TunnelSession({ client, tunnelId: tunnel_id });
  const t1 = performance.now();
  await session.start();
  let records = 0;
  for (const ch of session.ownedChannels()) {
    let { token } = await session.getStartToken(ch.channelId);
    while (token !== FINISHED_TOKEN) {
      const page = await client.readRecords({ tunnel_id, client_id: session.clientId!, channel_id: ch.channelId, token });
      records += page.records.length;
      token = page.next_token;
    }
  }
  const readMs = performance.now() - t1;
  await session.shutdown();
  client.close();

  console.log(
    JSON.stringify({
      bench: 'daemon.base-snapshot-until-idle',
      rows: ROWS,
      threads: THREADS,
      ms: Math.round(daemonMs),
      rowsPerSec: Math.round(ROWS / (daemonMs / 1000)),
      reference: 'ReadRecords only (no decode, no Parquet, no commit)',
      referenceRecords: records,
      referenceRowsPerSec: Math.round(records / (readMs / 1000)),
      rssMiB: Math.round(process.memoryUsage().rss / 1048576),
    }),
  );
} finally {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
}
