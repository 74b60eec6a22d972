/**
 * Crash test: `otslake run --config FILE` in its own process, SIGKILLed at random instants while a
 * writer keeps changing the table through the official SDK, restarted each time; at the end
 * `run --until-idle` catches up and the lake must hold every change exactly once:
 *   - no two rows share (_channel, _seq);
 *   - every pre-loaded row appears once as a full-snapshot row (_seq null), with its values;
 *   - per key, the stream rows in _seq order are exactly the writes the SDK made, in order.
 *
 * Small ReadRecords pages and record budgets make one life span many batches, so the kills land in
 * every phase (start-up, mid-read, files written, offset entry claimed, mid-commit, committed but
 * not yet checkpointed to the Tunnel). What a kill left behind is counted — data files no commit
 * references and offset entries above the txn in force — and printed with the seed.
 *
 * The RNG is seeded: OTSLAKE_CRASH_SEED=<n> replays the kill instants and the writer's choices (not
 * the thread timing). The daemon runs the TypeScript sources through tsx (the entry bin/otslake
 * loads from dist/), as daemon-sigterm.test.ts does, so the test does not depend on a fresh build.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { OssEmulator } from '../../emulator/oss/server.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { runChdb } from '../helpers/chdb.js';
import {
  CHANGELOG_ORDER,
  CHANGELOG_SELECT,
  createHarness,
  lakeRowOf,
  readChangelog,
  TABLE,
  type Change,
  type Harness,
  type LakeRow,
} from '../helpers/daemon-harness.js';
import { startTestOss, TEST_CREDENTIALS as OSS_CREDENTIALS } from '../helpers/oss.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { killSpawned, spawnCli } from '../helpers/cli-process.js';

const PRELOAD_ROWS = 240;
/** Rows per ReadRecords page and per channel task: a base channel of ~120 rows takes ~6 batches. */
const PAGE_RECORDS = 20;
const WRITES_PER_SECOND = 100;
/** Added to every ReadRecords: stretches the read phase so that more kills land mid-read. */
const READ_LATENCY_MS = 20;

let h: Harness | undefined;
let oss: OssEmulator | undefined;

afterEach(async () => {
  killSpawned();
  await h?.close();
  await oss?.close();
  h = undefined;
  oss = undefined;
});

/** The SDK writer: inserts, partial updates (with a column delete now and then), overwrites and deletes. */
class Writer {
  /** Every change per key, in the order the SDK acknowledged them (writes are sequential). */
  readonly record = new Map<number, Change[]>();
  private readonly live: number[] = [];
  private nextId = 100_000;
  private stopped = false;
  private done: Promise<void> | null = null;
  writes = 0;

  constructor(
    private readonly harness: Harness,
    private readonly random: () => number,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async loop(): Promise<void> {
    const started = Date.now();
    while (!this.stopped) {
      const change = await this.writeOne();
      const list = this.record.get(change.id) ?? [];
      list.push(change);
      this.record.set(change.id, list);
      this.writes++;
      // A steady rate, not a wait for an event: the writer is the load.
      const dueMs = started + (this.writes * 1000) / WRITES_PER_SECOND - Date.now();
      if (dueMs > 0) await delay(dueMs);
    }
  }

  private pick(): number {
    return this.live[Math.floor(this.random() * this.live.length)]!;
  }

  private async writeOne(): Promise<Change> {
    const r = this.random();
    const h = this.harness;
    if (this.live.length < 20 || r < 0.35) {
      const id = this.nextId++;
      this.live.push(id);
      return h.putRow(id, `new-${id}`, Math.floor(this.random() * 1000));
    }
    const id = this.pick();
    if (r < 0.55) return h.updateRow(id, { qty: Math.floor(this.random() * 1000) });
    if (r < 0.7) return h.updateRow(id, { name: `upd-${id}-${this.writes}`, qty: this.writes });
    if (r < 0.78) return h.updateRow(id, { qty: this.writes }, ['name']);
    if (r < 0.86) return h.putRow(id, `over-${id}-${this.writes}`, this.writes);
    this.live.splice(this.live.indexOf(id), 1);
    return h.deleteRow(id);
  }
}

interface Scenario {
  lake: 'file' | 'oss';
  faults: boolean;
  /** How long the kill/restart phase lasts; the kill count is bounded too. */
  killPhaseMs: number;
  maxKills: number;
}

interface LifeReport {
  kill: number;
  afterMs: number;
  beforeReady: boolean;
  commits: number;
  lastLog: string;
  exitedByItself: number | null;
}

/**
 * What kills left behind, as evidence of where they landed: data files no commit references (killed
 * after writing files), and offset entries no commit's txn names (killed after the entry, before the
 * commit). Both are invisible to readers; vacuum removes the files.
 */
async function orphansOf(tablePath: string): Promise<{ dataFiles: number; offsetEntries: number }> {
  const snapshot = await loadSnapshot(openStore(pathToFileURL(tablePath).href));
  const referenced = new Set([...snapshot.files.values()].map((a) => decodeURIComponent(a.path)));
  const dataFiles = (await readdir(tablePath, { recursive: true }))
    .filter((p) => p.endsWith('.parquet') && !p.startsWith('_'))
    .filter((p) => !referenced.has(p)).length;
  const committed = new Set<string>();
  const logDir = join(tablePath, '_delta_log');
  for (const name of (await readdir(logDir)).filter((n) => /^\d{20}\.json$/.test(n))) {
    for (const line of (await readFile(join(logDir, name), 'utf8')).split('\n')) {
      if (!line.includes('"txn"')) continue;
      const { txn } = JSON.parse(line) as { txn: { appId: string; version: number } };
      committed.add(`${txn.appId}#${txn.version}`);
    }
  }
  let offsetEntries = 0;
  const offsetsDir = join(tablePath, '_otslake', 'offsets');
  for (const tunnelId of await readdir(offsetsDir)) {
    for (const channelId of await readdir(join(offsetsDir, tunnelId))) {
      for (const entry of await readdir(join(offsetsDir, tunnelId, channelId))) {
        if (!committed.has(`otslake/${tunnelId}/${channelId}#${Number.parseInt(entry, 10)}`)) offsetEntries++;
      }
    }
  }
  return { dataFiles, offsetEntries };
}

async function readOssChangelog(emulator: OssEmulator, prefix: string): Promise<LakeRow[]> {
  const sql =
    `SELECT ${CHANGELOG_SELECT} FROM deltaLakeS3('${emulator.endpoint}/${emulator.bucket}/${prefix}/', 'ak', 'sk') ` +
    `ORDER BY ${CHANGELOG_ORDER} SETTINGS session_timezone='UTC', output_format_json_quote_64bit_integers=1`;
  const [outcome] = await runChdb([sql]);
  if (!outcome!.ok) throw new Error(`chdb: ${outcome!.error}`);
  return outcome!.rows.map(lakeRowOf);
}

/** The exactly-once checks; returns problems as text so that a failure names the keys involved. */
function checkExactlyOnce(rows: readonly LakeRow[], preloaded: ReadonlyMap<number, Change>, writes: ReadonlyMap<number, Change[]>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    if (r.seq === null) continue;
    const key = `${r.channel}|${r.seq}`;
    if (seen.has(key)) problems.push(`duplicate (_channel, _seq) ${key} (id ${r.id})`);
    seen.add(key);
  }
  const baseCount = new Map<number, number>();
  for (const r of rows.filter((x) => x.seq === null)) {
    baseCount.set(r.id, (baseCount.get(r.id) ?? 0) + 1);
    const pre = preloaded.get(r.id);
    if (pre && (r.op !== 'PUT' || r.name !== pre.name || r.qty !== pre.qty))
      problems.push(`base row of id ${r.id} is ${JSON.stringify(r)}, written as ${JSON.stringify(pre)}`);
  }
  for (const [id, n] of baseCount) if (n !== 1) problems.push(`id ${id} has ${n} full-snapshot rows`);
  for (const id of preloaded.keys()) if (!baseCount.has(id)) problems.push(`pre-loaded id ${id} missing from the full snapshot`);

  const landed = new Map<number, LakeRow[]>();
  for (const r of rows) {
    if (r.seq === null) continue;
    const list = landed.get(r.id) ?? [];
    list.push(r);
    landed.set(r.id, list);
  }
  const shape = (c: { op: string; name: string | null; qty: number | null; deleted: string[] }) => JSON.stringify([c.op, c.name, c.qty, c.deleted]);
  for (const id of new Set([...landed.keys(), ...writes.keys()])) {
    const got = (landed.get(id) ?? []).sort((a, b) => (a.seq! < b.seq! ? -1 : 1)).map(shape);
    const want = (writes.get(id) ?? []).map(shape);
    if (got.join() !== want.join()) problems.push(`id ${id}: lake has ${got.length} changes [${got.join(' ')}], SDK wrote ${want.length} [${want.join(' ')}]`);
  }
  return problems;
}

async function runScenario(scenario: Scenario): Promise<void> {
  const seed = Number(process.env.OTSLAKE_CRASH_SEED ?? Date.now() & 0x7fffffff);
  const random = seededRandom(seed);
  console.log(`daemon-crash ${scenario.lake}${scenario.faults ? '+faults' : ''}: seed ${seed} (replay with OTSLAKE_CRASH_SEED=${seed})`);

  h = await createHarness({ partitions: 2, pageRecords: PAGE_RECORDS });
  const preloaded = new Map<number, Change>();
  for (let first = 1; first <= PRELOAD_ROWS; first += 40) {
    const batch = await Promise.all(Array.from({ length: 40 }, (_, i) => h!.putRow(first + i, `order-${first + i}`, first + i)));
    for (const c of batch) preloaded.set(c.id, c);
  }

  let lake: Record<string, unknown> = { uri: pathToFileURL(join(h.lake.path, 'lake')).href };
  if (scenario.lake === 'oss') {
    oss = await startTestOss('otslake-crash');
    lake = { uri: 'oss://otslake-crash/lake', oss: { endpoint: oss.endpoint, ...OSS_CREDENTIALS } };
  }
  const configPath = await h.writeConfigFile({
    source: { requestTimeoutMs: '5s' },
    lake,
    tables: [{ table: TABLE, tunnel: { name: 'otslake-orders', type: 'BaseAndStream' }, path: 'orders', columns: [{ name: 'name', type: 'STRING' }] }],
    batch: { intervalMs: '100ms', maxRecordsPerChannel: PAGE_RECORDS, maxDurationMs: '1s' },
    workers: { threads: 2 },
    http: { port: 0 },
    log: { level: 'info' },
    shutdown: { graceMs: '5s' },
  });
  h.emu.emulator.faults.set({ path: '/tunnel/readrecords', latencyMs: READ_LATENCY_MS });
  if (scenario.faults) {
    h.emu.emulator.faults.set({ path: '/tunnel/readrecords', latencyMs: READ_LATENCY_MS, errorRate: 0.1, dropRate: 0.05, drop: 'before' });
    h.emu.emulator.faults.set({ path: '/tunnel/checkpoint', errorRate: 0.15, dropRate: 0.1, drop: 'after' });
    oss?.faults.setRandom({ errorRate: 0.03 });
  }

  const writer = new Writer(h, random);
  const lives: LifeReport[] = [];
  const warnings: Record<string, number> = {};
  const phaseStarted = Date.now();
  while (lives.length < scenario.maxKills && Date.now() - phaseStarted < scenario.killPhaseMs) {
    // A commit whose answer is lost: the put landed, the daemon saw a dropped connection.
    oss?.faults.inject({ kind: 'drop-after', op: 'PutObject', keyPrefix: 'lake/orders/_delta_log/0' });
    const d = spawnCli(['run', '--config', configPath]);
    const spawnedAt = Date.now();
    // The first life creates the tunnel; the writer starts after that, so every write is in the stream.
    const beforeReady = lives.length > 0 && random() < 0.15;
    if (!beforeReady) await d.logged('table ready', 30_000);
    if (lives.length === 0) writer.start();
    // Every third life is killed only after it committed (how soon a first batch commits depends on the
    // machine's load), so that restarts after committed batches are always part of the run.
    if (!beforeReady && lives.length % 3 === 1) await d.logged('batch committed', 30_000);
    const afterMs = Math.floor(beforeReady ? 100 + random() * 1_200 : random() * 2_500);
    const exitedByItself = await Promise.race([delay(afterMs).then(() => undefined), d.exited]);
    d.child.kill('SIGKILL');
    await d.exited;
    // The dead process cannot shut its session down; the server frees its channels once its heartbeat
    // times out (300 s by default). Sweep as if that time had passed, so the next life gets them.
    await h.emu.emulator.tunnel.sweepExpiredClients(Date.now() + 3_600_000);
    for (const l of d.logs) if (l.level === 'warn' || l.level === 'error') warnings[String(l.msg)] = (warnings[String(l.msg)] ?? 0) + 1;
    lives.push({
      kill: lives.length + 1,
      afterMs: beforeReady ? afterMs : Date.now() - spawnedAt,
      beforeReady,
      commits: d.logs.filter((l) => l.msg === 'batch committed').length,
      lastLog: String(d.logs.at(-1)?.msg ?? '(none)'),
      exitedByItself: exitedByItself === undefined ? null : exitedByItself,
    });
  }
  await writer.stop();

  const final = spawnCli(['run', '--config', configPath, '--until-idle']);
  const finalCode = await Promise.race([final.exited, delay(45_000).then(() => 'timeout' as const)]);
  if (finalCode !== 0) console.log('final run logs', JSON.stringify(final.logs.slice(-15)));
  expect(finalCode).toBe(0);

  const ossFaultsFired = oss ? { ...oss.faults.fired } : null;
  oss?.faults.clear();
  h.emu.emulator.faults.clear();
  const rows = scenario.lake === 'oss' ? await readOssChangelog(oss!, 'lake/orders') : await readChangelog(join(h.lake.path, 'lake', 'orders'));
  const orphans = scenario.lake === 'file' ? await orphansOf(join(h.lake.path, 'lake', 'orders')) : null;
  console.log(
    JSON.stringify({
      scenario: `${scenario.lake}${scenario.faults ? '+faults' : ''}`,
      seed,
      kills: lives.length,
      killedBeforeReady: lives.filter((l) => l.beforeReady).length,
      commitsBeforeKills: lives.map((l) => l.commits),
      lastLogBeforeKill: lives.map((l) => l.lastLog),
      exitedBeforeKill: lives.filter((l) => l.exitedByItself !== null).map((l) => l.exitedByItself),
      writes: writer.writes,
      lakeRows: rows.length,
      orphans,
      ossFaultsFired,
      warnings,
    }),
  );

  expect(lives.length).toBeGreaterThanOrEqual(8);
  // Some lives must have committed before their kill, or the test proved nothing about restarts.
  expect(lives.filter((l) => l.commits > 0).length).toBeGreaterThanOrEqual(3);
  expect(writer.writes).toBeGreaterThan(300);
  if (scenario.faults) {
    // The daemon saw the Tunnel faults (it logs each retried RPC and each failed checkpoint) and rode them out.
    expect(warnings['tunnel rpc retry'] ?? 0).toBeGreaterThan(0);
    if (ossFaultsFired) expect(ossFaultsFired.error + ossFaultsFired['drop-after']).toBeGreaterThan(0);
  }
  const problems = checkExactlyOnce(rows, preloaded, writer.record);
  expect(problems.slice(0, 20)).toEqual([]);
  expect(rows.length).toBe(PRELOAD_ROWS + rows.filter((r) => r.seq === null && !preloaded.has(r.id)).length + writer.writes);
}

describe('daemon: SIGKILL at random instants', () => {
  it('lands every change exactly once across 8+ kills (local lake)', async () => {
    await runScenario({ lake: 'file', faults: false, killPhaseMs: 35_000, maxKills: 12 });
  }, 120_000);

  it('lands every change exactly once across kills with Tunnel 503s/drops and OSS 503s/lost commit answers (OSS lake)', async () => {
    await runScenario({ lake: 'oss', faults: true, killPhaseMs: 35_000, maxKills: 12 });
  }, 120_000);
});
