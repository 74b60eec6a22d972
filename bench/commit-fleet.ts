/**
 * N daemons committing to one table, in one process, through the project's own commit path: each
 * simulated daemon refreshes its cached view (TableViewCache), claims an offset entry for its own
 * channel, commits one batch (ChangelogCommitter: a txn and one add) and paces itself like the
 * table runner does (batch.intervalMs start to start, behind = at once, and the CommitPacer's share
 * of the table's commit budget). No Tunnel and no Parquet: the figure is the Delta log under load.
 *
 * Every N runs twice in the same process on a fresh table: with the commit budget (default 10/s) and,
 * as the reference, without it (budget 1,000,000/s: what every daemon did before pacing). Printed per
 * run: commits/s, batches that lost ≥ 1 race, versions tried per commit, p50/p99 commit latency,
 * snapshot reloads, failed batches (dropped or an error), the freshness cost (p50/p99 time
 * between one daemon's commits) and how long a daemon waited for its first commit (p50/p99).
 * `steadyCommitsPerS` counts the commits after `--steady-after-s` (default: half the run), when the
 * crowd that started together has been seen; `firstCommitsPerS` the first 20 s.
 *
 * The daemons start together (within `--interval-ms`), as a fleet does after a deploy. Like the table
 * runner, each one connects to the tunnel and counts the tunnel's clients holding channels
 * (DescribeTunnel, modelled here by the daemons started so far) and the tunnel's channels (one per daemon here),
 * at start, then at its next heartbeat (`--heartbeat-s`, the config's default 10 s) once the fleet has changed —
 * the Tunnel service moves channels to new clients at heartbeats, which makes the table runner describe the
 * tunnel again — and every `--describe-s`; for its first two heartbeats it presumes a daemon per channel (the
 * pacer's slow start). `--no-tunnel-clients` leaves the pacer with the commits it sees alone.
 *
 *   npx tsx bench/commit-fleet.ts [--daemons 2,8,32,128] [--seconds 10] [--interval-ms 100] [--budget 10]
 *                                 [--store local,oss] [--oss-latency-ms 30] [--no-reference]
 *                                 [--steady-after-s S] [--describe-s 30] [--heartbeat-s 10] [--no-tunnel-clients]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../common/log.js';
import { startOssEmulator, type OssEmulator } from '../emulator/oss/server.js';
import { LocalStore } from '../lake/local-store.js';
import type { ObjectStore } from '../lake/object-store.js';
import { claimOffsetEntry } from '../lake/offset-log.js';
import { OssStore } from '../lake/oss-store.js';
import { readCommitInfos } from '../lake/snapshot.js';
import { createTable } from '../lake/table-create.js';
import { ChangelogCommitter } from '../pipeline/changelog-committer.js';
import { ChannelPositions } from '../pipeline/channel-positions.js';
import { CommitPacer } from '../pipeline/commit-pacer.js';
import { TableViewCache } from '../pipeline/table-view.js';
import type { ChannelTaskOk } from '../workers/protocol.js';

const { values } = parseArgs({
  options: {
    daemons: { type: 'string', default: '2,8,32,128' },
    seconds: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '100' },
    budget: { type: 'string', default: '10' },
    store: { type: 'string', default: 'local,oss' },
    'oss-latency-ms': { type: 'string', default: '30' },
    'no-reference': { type: 'boolean', default: false },
    'steady-after-s': { type: 'string' },
    'describe-s': { type: 'string', default: '30' },
    'heartbeat-s': { type: 'string', default: '10' },
    'no-tunnel-clients': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const INTERVAL_MS = Number(values['interval-ms']);
const BUDGET = Number(values.budget);
const STEADY_AFTER_S = values['steady-after-s'] !== undefined ? Number(values['steady-after-s']) : SECONDS / 2;
const DESCRIBE_MS = Number(values['describe-s']) * 1000;
const HEARTBEAT_MS = Number(values['heartbeat-s']) * 1000;
const TUNNEL_CLIENTS = !values['no-tunnel-clients'];
const UNPACED = 1_000_000;
const TUNNEL = 'bench-tunnel';

interface RunFigures {
  commits: number;
  batches: number;
  batchesLosingARace: number;
  versionsTried: number;
  latencies: number[];
  /** When each commit landed (ms since epoch), for the steady-state rate. */
  commitTimes: number[];
  gaps: number[];
  /** Per daemon: from its start to its first commit. */
  firstCommits: number[];
  /** The tunnel's clients: the daemons connected so far. */
  connected: Set<number>;
  snapshotLoads: number;
  failedBatches: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fakeResult(channel: string, offsetSeq: number, i: number): ChannelTaskOk {
  return {
    kind: 'ok',
    endToken: `${channel}-${offsetSeq}`,
    finished: false,
    endedOnBudget: false,
    files: [
      {
        path: `part-${channel}-${offsetSeq}-${i}.parquet`,
        size: 1000,
        numRecords: 10,
        modificationTime: Date.now(),
        partitionValues: {},
        stats: { numRecords: 10 },
      },
    ],
    deadLetters: [],
    offsetSeq,
    newColumns: [],
    lastSequence: null,
    stats: { records: 10, bytesRead: 100, rowsWritten: 10, bytesWritten: 1000, readRequests: 1, durationMs: 1, lastRecordTimeMs: null },
  };
}

/** One simulated daemon's batch loop until `deadline`. */
async function daemonLoop(store: ObjectStore, id: number, daemons: number, budget: number, deadline: number, figures: RunFigures): Promise<void> {
  const channel = `ch-${id}`;
  const writer = `bench-${id}`;
  const positions = new ChannelPositions(silentLogger, TUNNEL);
  const pacer = new CommitPacer({ commitsPerSecond: budget, writer });
  let loads = 0;
  const view = new TableViewCache(store, positions, silentLogger, (others) => pacer.observe(others));
  const committer = new ChangelogCommitter({
    store,
    identity: { tunnelId: TUNNEL, writer },
    log: silentLogger,
    onLostRace: (winners, lost) => pacer.backoffAfterLostRace(winners, lost),
  });
  let seq = 0;
  let lastCommitAt: number | null = null;
  // Daemons do not start in the same millisecond; like the table runner, each connects to the tunnel, counts
  // its clients, reads the table's recent history and waits a random part of its paced interval.
  await new Promise((r) => setTimeout(r, Math.random() * INTERVAL_MS));
  const startedAt = Date.now();
  figures.connected.add(id);
  let describedAt = Date.now();
  let clientsSeen = figures.connected.size;
  if (TUNNEL_CLIENTS) {
    pacer.observeClients(clientsSeen);
    // The slow start of a fleet forming: the first daemon sees itself alone, as a lone daemon would, and skips it.
    if (clientsSeen > 1) pacer.observeChannels(daemons, startedAt + 2 * HEARTBEAT_MS);
  }
  const first = await view.refresh();
  pacer.observeHistory(await readCommitInfos(store, Math.max(0, first.version - 199), { toVersion: first.version }));
  await new Promise((r) => setTimeout(r, pacer.startDelayMs()));
  while (Date.now() < deadline) {
    const fleetMoved = figures.connected.size !== clientsSeen && Date.now() - describedAt >= HEARTBEAT_MS;
    if (TUNNEL_CLIENTS && (fleetMoved || Date.now() - describedAt >= DESCRIBE_MS)) {
      clientsSeen = figures.connected.size;
      pacer.observeClients(clientsSeen);
      describedAt = Date.now();
    }
    const started = Date.now();
    figures.batches++;
    try {
      const before = view.current;
      const current = await view.refresh();
      if (before === null || current.version < before.version) loads++;
      seq = Math.max(seq, current.txns.get(`otslake/${TUNNEL}/${channel}`) ?? 0);
      const entry = await claimOffsetEntry(store, seq, {
        tunnelId: TUNNEL,
        channelId: channel,
        batchId: `b-${id}-${started}`,
        startToken: `${channel}-${seq}`,
        endToken: `${channel}-${seq + 1}`,
        finished: false,
        records: 10,
        lastSequence: null,
      });
      const t0 = performance.now();
      const out = await committer.commit({
        view: current,
        batchId: `b-${id}-${started}`,
        results: [{ channelId: channel, startToken: `${channel}-${seq}`, result: fakeResult(channel, entry.seq, figures.batches) }],
      });
      if (out.kind === 'committed') {
        figures.latencies.push(performance.now() - t0);
        figures.commits++;
        figures.commitTimes.push(Date.now());
        figures.versionsTried += out.attempts;
        if (out.attempts > 1) figures.batchesLosingARace++;
        view.committed(current, out.version, out.metadata, out.plan.txns, out.others);
        pacer.committed(out.version);
        seq = entry.seq;
        const now = Date.now();
        if (lastCommitAt !== null) figures.gaps.push(now - lastCommitAt);
        else figures.firstCommits.push(now - startedAt);
        lastCommitAt = now;
      } else if (out.kind === 'dropped') {
        figures.failedBatches++;
        figures.batchesLosingARace++;
        view.lostRace(current, out.others, out.reason);
      }
    } catch (err) {
      figures.failedBatches++;
      if (figures.failedBatches <= 3) process.stderr.write(`batch failed: ${(err as Error).message}\n`);
    }
    // A busy table: every batch is "behind", so only the commit budget holds a daemon back.
    const paced = pacer.pacedDelayMs(started);
    const cadence = Math.max(0, started + INTERVAL_MS - Date.now());
    const wait = Math.max(cadence, paced);
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, deadline - Date.now()))));
  }
  figures.snapshotLoads += loads;
}

async function run(label: string, store: ObjectStore, daemons: number, budget: number): Promise<void> {
  await createTable(store, { schema: { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] } });
  const figures: RunFigures = {
    commits: 0,
    batches: 0,
    batchesLosingARace: 0,
    versionsTried: 0,
    latencies: [],
    commitTimes: [],
    gaps: [],
    firstCommits: [],
    connected: new Set(),
    snapshotLoads: 0,
    failedBatches: 0,
  };
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(Array.from({ length: daemons }, (_, i) => daemonLoop(store, i, daemons, budget, deadline, figures)));
  const elapsedS = (Date.now() - started) / 1000;
  const lat = [...figures.latencies].sort((a, b) => a - b);
  const gaps = [...figures.gaps].sort((a, b) => a - b);
  const firsts = [...figures.firstCommits].sort((a, b) => a - b);
  const steadyFrom = started + STEADY_AFTER_S * 1000;
  const rateBetween = (fromMs: number, toMs: number) =>
    Number((figures.commitTimes.filter((t) => t >= fromMs && t < toMs).length / Math.max(0.001, (toMs - fromMs) / 1000)).toFixed(2));
  process.stdout.write(
    JSON.stringify({
      bench: 'commit-fleet',
      store: label,
      daemons,
      budgetPerS: budget === UNPACED ? 'none (reference)' : budget,
      intervalMs: INTERVAL_MS,
      commitsPerS: Number((figures.commits / elapsedS).toFixed(1)),
      tunnelClients: TUNNEL_CLIENTS,
      firstCommitsPerS: rateBetween(started, started + Math.min(20, SECONDS) * 1000),
      steadyAfterS: STEADY_AFTER_S,
      steadyCommitsPerS: rateBetween(steadyFrom, deadline),
      batches: figures.batches,
      batchesLosingARacePct: Number(((100 * figures.batchesLosingARace) / Math.max(1, figures.batches)).toFixed(1)),
      versionsTriedPerCommit: Number((figures.versionsTried / Math.max(1, figures.commits)).toFixed(2)),
      commitP50Ms: Number(percentile(lat, 50).toFixed(1)),
      commitP99Ms: Number(percentile(lat, 99).toFixed(1)),
      snapshotLoads: figures.snapshotLoads,
      failedBatches: figures.failedBatches,
      failedPct: Number(((100 * figures.failedBatches) / Math.max(1, figures.batches)).toFixed(1)),
      perDaemonGapP50Ms: percentile(gaps, 50),
      perDaemonGapP99Ms: percentile(gaps, 99),
      daemonsCommitted: firsts.length,
      firstCommitP50Ms: percentile(firsts, 50),
      firstCommitP99Ms: percentile(firsts, 99),
    }) + '\n',
  );
}

const counts = values.daemons.split(',').map(Number);
const stores = values.store.split(',');
let oss: OssEmulator | null = null;
const dir = await mkdtemp(join(tmpdir(), 'otslake-commit-fleet-'));
try {
  for (const kind of stores) {
    if (kind === 'oss') {
      oss = await startOssEmulator({ bucket: 'bench', dataDir: join(dir, 'oss') });
      oss.faults.setRandom({ latencyMs: Number(values['oss-latency-ms']) });
    }
    for (const n of counts) {
      for (const budget of values['no-reference'] ? [BUDGET] : [BUDGET, UNPACED]) {
        const prefix = `t-${n}-${budget}`;
        const store: ObjectStore =
          kind === 'oss'
            ? OssStore.open({ bucket: 'bench', endpoint: oss!.endpoint, accessKeyId: 'bench', accessKeySecret: 'bench', prefix, requestTimeoutMs: 30_000 })
            : new LocalStore(join(dir, prefix));
        await run(kind === 'oss' ? `oss+${values['oss-latency-ms']}ms` : 'local', store, n, budget);
        await store.close?.();
      }
    }
    await oss?.close();
    oss = null;
  }
} finally {
  await oss?.close();
  await rm(dir, { recursive: true, force: true });
}
