/**
 * The daemon's lifecycle around its table runners.
 *
 *   created ──run()──▶ running ──shutdown()──▶ draining ──▶ stopped
 *                         │                       │ grace expired / destroy()
 *                         └── fatal error ──▶ failed ◀──┘ (destroy(err))
 *
 * - created: built, nothing started.
 * - running: every table runs its batch loop; the HTTP endpoints answer.
 * - draining: no new batch is planned; in-flight batches may still commit (bounded by shutdown.graceMs),
 *   then sessions are shut down (channels go back to the server), the pool and HTTP server close.
 * - stopped: everything closed; run() has resolved.
 * - failed: a fatal error (or destroy(err)); run() rejects with it.
 *
 * Library code: it never touches `process` (signals belong to daemon/main.ts). Tests await its
 * events ('state', 'table-ready', 'batch-committed', 'batch', 'idle', 'maintenance') instead of sleeping.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter, setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { OtslakeError, isTableStopError, toOtslakeError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import type { ObjectStore } from '../lake/object-store.js';
import { planReload, type ReloadPlan } from './config-reload.js';
import { redactedConfig, type ResolvedConfig, type TableConfig } from '../config/load.js';
import type { DaemonEvents } from './daemon-events.js';
import type { DaemonStatus } from './daemon-status.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import type { WorkerPool } from '../workers/pool.js';
import { createHttpServer, type BoundAddress, type HttpServer, type Readiness } from './http-server.js';
import { Metrics, batchResultOf, type DaemonStateName } from './metrics.js';
import { liveStatus, secretsOf } from './status-page/live-status.js';
import { DaemonActivity } from './status-page/table-activity.js';
import { resyncTable, type ResyncResult } from '../pipeline/resync.js';
import { TableRunner, type SessionSettings } from '../pipeline/table-runner.js';
import type { DescribeSourceTable } from '../pipeline/table-schema.js';
import { TableResyncs } from './table-resyncs.js';

export type DaemonState = DaemonStateName;

export interface DaemonOptions {
  config: ResolvedConfig;
  tunnelClient: TunnelClient;
  /** The lake root (lake.uri); each table lives in its `path` below it. */
  lakeRoot: ObjectStore;
  pool: WorkerPool;
  describeTable: DescribeSourceTable;
  metrics?: Metrics;
  log?: Logger;
  /** Serve /healthz, /readyz, /metrics, /status on config.http (default true). */
  http?: boolean;
  session?: SessionSettings;
  /** Stop (as shutdown('idle')) once every table is caught up: `run --until-idle`. */
  untilIdle?: boolean;
  /** With untilIdle: fail with OTSL_NOT_CAUGHT_UP (each table's state as the reason) if not caught up by then. */
  idleTimeoutMs?: number;
  /** This daemon's writer id in its commits (commit pacing counts writers by it); default host:pid:random. */
  writer?: string;
  /** The clock of the tables' health and retention guard (ms since epoch): Date.now unless a test drives it. */
  clock?: () => number;
}

export class Daemon extends EventEmitter<DaemonEvents> {
  readonly metrics: Metrics;
  /** Names this daemon in its commits and in /status. */
  readonly writer: string;
  /** What the status page charts and lists (fed by this daemon's events). */
  readonly activity: DaemonActivity;
  private readonly resyncs = new TableResyncs();
  private readonly startedAtMs = Date.now();
  private readonly log: Logger;
  private runners: TableRunner[];
  /** Each table's run (start, then its batches until it stops); a table added by a reload joins. */
  private readonly tableRuns = new Map<TableRunner, Promise<void>>();
  /** Wakes run() when a table's run is added or the daemon stops. */
  private tablesChanged: () => void = () => undefined;
  private reloaded = false;
  /** Runners a reload is taking out: a resync that ends after that must not start their table again. */
  private readonly retiring = new WeakSet<TableRunner>();
  private readonly destroyController = new AbortController();
  private readonly stopController = new AbortController();
  private stateValue: DaemonState = 'created';
  private http: HttpServer | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private fatal: OtslakeError | null = null;
  private confirmingIdle = false;
  private address: BoundAddress | null = null;

  constructor(private readonly options: DaemonOptions) {
    super();
    this.metrics = options.metrics ?? new Metrics();
    this.log = (options.log ?? silentLogger).child({ component: 'daemon' });
    // Every in-flight channel task, pause and store request of every table listens to these two for as long
    // as it runs (and stops when it ends): their number follows the work in flight, not a leak. Node's
    // default of 10 would print a MaxListenersExceededWarning — a non-JSON line in the log — past 10 channels.
    setMaxListeners(0, this.destroyController.signal, this.stopController.signal);
    this.writer = options.writer ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.activity = new DaemonActivity(this.metrics);
    this.activity.attach(this);
    this.runners = options.config.tables.map((table) => this.createRunner(options.config, table));
  }

  private createRunner(config: ResolvedConfig, table: TableConfig): TableRunner {
    const { options } = this;
    return new TableRunner({
      config,
      table,
      tunnelClient: options.tunnelClient,
      lakeRoot: options.lakeRoot,
      pool: options.pool,
      metrics: this.metrics,
      log: (options.log ?? silentLogger).child({ table: table.table }),
      describeTable: options.describeTable,
      writer: this.writer,
      ...(options.session ? { session: options.session } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** Starts a table's run; a table that fails stops the others too: they drain, so nothing committed is lost. */
  private startTable(runner: TableRunner): void {
    const run = this.runTable(runner)
      .catch((err: unknown) => {
        this.log.error('table failed', { table: runner.name, error: err });
        if (!this.fatal) this.fatal = err as OtslakeError;
        this.shutdown('fatal error');
      })
      .finally(() => {
        // A resync may hold the table's place by now (startResync).
        if (this.tableRuns.get(runner) === run) this.tableRuns.delete(runner);
      });
    this.tableRuns.set(runner, run);
    this.tablesChanged();
  }

  /**
   * Applies a new config's `tables` (SIGHUP; daemon/config-reload.ts): added tables start, removed ones stop
   * after their in-flight batch and hand their channels back, changed ones restart. Other keys wait for a restart.
   */
  async reload(next: ResolvedConfig): Promise<ReloadPlan | null> {
    if (this.stateValue !== 'running') return null;
    const plan = planReload(
      this.options.config,
      next,
      this.runners.map((r) => r.table),
    );
    this.reloaded = true;
    this.log.info('config reloaded', {
      added: plan.added.map((t) => t.table),
      removed: plan.removed.map((t) => t.table),
      changed: plan.changed.map((c) => c.after.table),
      ...(plan.restartOnly.length > 0 ? { restartOnly: plan.restartOnly } : {}),
    });
    const leaving = new Set([...plan.removed, ...plan.changed.map((c) => c.before)].map((t) => t.path));
    await Promise.all(this.runners.filter((r) => leaving.has(r.table.path)).map((r) => this.retire(r)));
    for (const table of [...plan.changed.map((c) => c.after), ...plan.added]) {
      if (this.stateValue !== 'running') break;
      const runner = this.createRunner(next, table);
      this.runners.push(runner);
      this.startTable(runner);
    }
    return plan;
  }

  /** A table leaving the config: its in-flight batch commits, its channels go back to the Tunnel, it is forgotten. */
  private async retire(runner: TableRunner, forget = true): Promise<void> {
    if (forget) this.retiring.add(runner);
    runner.stop();
    await this.tableRuns.get(runner);
    await runner.close(AbortSignal.timeout(5_000)).catch((err: unknown) => this.log.warn('tunnel session shutdown failed', { table: runner.name, error: err }));
    if (!forget) return;
    this.runners = this.runners.filter((r) => r !== runner);
    this.log.info('table removed', { table: runner.name });
  }

  /**
   * Resyncs one table while the others go on (docs/operations.md §Table lifecycle): its runner stops after its
   * in-flight batch and hands its channels back, the table shows `resyncing`, pipeline/resync.ts rebuilds it on
   * this daemon's pool, then a new runner starts it (on the new tunnel; as before when the resync failed).
   * Refused at once (thrown) for an unknown table, one already resyncing, or a daemon that is not running.
   */
  startResync(name: string): Promise<ResyncResult> {
    const runner = this.runners.find((r) => r.name === name || r.table.path === name);
    if (this.stateValue !== 'running') throw new OtslakeError('OTSL_DAEMON_STATE', `resync refused: the daemon is ${this.stateValue}`);
    if (!runner) throw new OtslakeError('OTSL_CONFIG_INVALID', `resync refused: no table "${name}" in the running config`, { context: { table: name } });
    if (runner.health.state === 'resyncing')
      throw new OtslakeError('OTSL_DAEMON_STATE', `resync refused: table ${name} is resyncing already`, { context: { table: name } });
    if (this.retiring.has(runner))
      throw new OtslakeError('OTSL_DAEMON_STATE', `resync refused: table ${name} is leaving the config (reload)`, { context: { table: name } });
    // The table is away for a while: the daemon must not take an empty table set for its end (tablesDone).
    this.reloaded = true;
    runner.health.resyncing();
    this.resyncs.begin(runner.name);
    this.emit('table-resync-started', runner.name);
    const { options } = this;
    const log = (options.log ?? silentLogger).child({ table: runner.name });
    const signal = AbortSignal.any([this.stopController.signal, this.destroyController.signal]);
    const resync = (async () => {
      await this.retire(runner, false);
      return resyncTable(options.tunnelClient, runner.table, options.lakeRoot.child(runner.table.path), log, signal, {
        config: options.config,
        lakeRoot: options.lakeRoot,
        pool: options.pool,
        metrics: this.metrics,
        describeTable: options.describeTable,
        writer: this.writer,
        ...(options.session ? { session: options.session } : {}),
      });
    })();
    // The resync holds the table's place until a new runner takes it.
    const held = resync.then(
      (result) => {
        this.resyncs.done(runner.name, result);
        this.emit('table-resynced', runner.name, result);
      },
      (err: unknown) => {
        const error = toOtslakeError(err, { table: runner.name });
        log.error('table resync failed; the table runs on as before', { error });
        this.resyncs.failed(runner.name, error);
        this.emit('table-resync-failed', runner.name, error);
      },
    );
    this.tableRuns.set(
      runner,
      held.finally(() => {
        this.tableRuns.delete(runner);
        this.runners = this.runners.filter((r) => r !== runner);
        // A reload that removed or changed the table meanwhile waited for this (retire): it starts what the new config says.
        if (this.stateValue !== 'running' || this.retiring.has(runner)) return;
        const fresh = this.createRunner(options.config, runner.table);
        this.runners.push(fresh);
        this.startTable(fresh);
      }),
    );
    return resync;
  }

  /** Until every table's run ended — and, once a reload happened, until shutdown (a reload may add tables again). */
  private async tablesDone(): Promise<void> {
    for (;;) {
      const changed = new Promise<void>((resolve) => {
        this.tablesChanged = resolve;
      });
      if (this.tableRuns.size === 0 && (!this.reloaded || this.stateValue !== 'running')) return;
      await Promise.race([Promise.all([...this.tableRuns.values()]), changed]);
      if (this.tableRuns.size === 0 && !this.reloaded) return;
    }
  }

  get state(): DaemonState {
    return this.stateValue;
  }

  get httpAddress(): BoundAddress | null {
    return this.address;
  }

  /** Resolves once stopped; rejects with the fatal error when failed. */
  async run(): Promise<void> {
    if (this.stateValue !== 'created') throw new OtslakeError('OTSL_DAEMON_STATE', `run() from state ${this.stateValue}`);
    this.transition('running', { tables: this.runners.map((r) => r.name) });
    const idleBound = this.startIdleBound();
    try {
      if (this.options.http !== false) await this.startHttp();
      for (const r of this.runners) this.startTable(r);
      await this.tablesDone();
    } catch (err) {
      this.fatal ??= err as OtslakeError;
    }
    if (idleBound) clearTimeout(idleBound);
    // --until-idle reports success only for a complete run: a stopped table fails it, by its own error.
    const stopped = this.runners.find((r) => r.halted);
    if (this.options.untilIdle && stopped && !this.fatal) this.fatal = stopped.health.stoppedError ?? null;
    await this.drain();
    if (this.fatal) {
      this.transition('failed', { error: this.fatal });
      throw this.fatal;
    }
    this.transition('stopped', {});
  }

  private startIdleBound(): NodeJS.Timeout | null {
    const { untilIdle, idleTimeoutMs } = this.options;
    if (!untilIdle || idleTimeoutMs === undefined) return null;
    const timer = setTimeout(() => {
      const reasons = this.runners.map((r) => `${r.name}: ${r.health.reason ?? r.health.state}`).join('; ');
      this.destroyWith(
        new OtslakeError('OTSL_NOT_CAUGHT_UP', `not caught up within ${idleTimeoutMs} ms (--idle-timeout): ${reasons}`, { context: { idleTimeoutMs } }),
      );
    }, idleTimeoutMs);
    timer.unref();
    return timer;
  }

  /** A fatal error that still lets in-flight batches commit. */
  private destroyWith(err: OtslakeError): void {
    if (!this.fatal) this.fatal = err;
    this.shutdown(err.code);
  }

  /** Stop planning batches; let the in-flight ones commit within shutdown.graceMs. Synchronous, idempotent. */
  shutdown(reason = 'requested'): void {
    if (this.stateValue !== 'running') return;
    this.transition('draining', { reason });
    this.stopController.abort(new Error(`shutdown: ${reason}`));
    for (const r of this.runners) r.stop();
    this.tablesChanged();
    this.graceTimer = setTimeout(() => {
      this.log.warn('shutdown grace expired; abandoning in-flight batches (their files stay invisible)', { graceMs: this.options.config.shutdown.graceMs });
      this.destroy();
    }, this.options.config.shutdown.graceMs);
    this.graceTimer.unref();
  }

  /** Abort everything in flight now. With an error the daemon ends failed. */
  destroy(err?: unknown): void {
    if (err !== undefined && !this.fatal) this.fatal = toOtslakeError(err);
    if (this.stateValue === 'running') this.shutdown('destroy');
    for (const r of this.runners) r.stop();
    this.destroyController.abort(new Error('destroy'));
    void this.options.pool.destroy().catch(() => undefined);
  }

  private async runTable(runner: TableRunner): Promise<void> {
    runner.on('batch', (report) => {
      // The last successful cycle is the table health's (set at scrape): an empty batch before a failed
      // DescribeTunnel is no success. Failures are counted here.
      const result = batchResultOf(report);
      if (result !== 'ok') this.metrics.batchFinished(runner.name, result);
      this.emit('batch', runner.name, report);
      if (report.outcome === 'committed') {
        this.log.info('batch committed', {
          table: runner.name,
          batchId: report.batchId,
          version: report.version,
          rows: report.rows,
          records: report.records,
          durationMs: report.durationMs,
        });
        this.emit('batch-committed', runner.name, report);
      }
    });
    runner.on('idle', () => {
      this.emit('table-idle', runner.name);
      this.onRunnerIdle();
    });
    runner.on('maintenance', (run) => this.emit('maintenance', runner.name, run));
    runner.on('batch-failed', (err) => {
      this.metrics.batchFinished(runner.name, 'failed');
      this.emit('batch-failed', runner.name, err);
    });
    runner.on('failed', (err) => {
      if (!this.fatal) this.fatal = err;
      this.shutdown('fatal tunnel error');
    });
    runner.on('stopped', (err) => {
      this.log.error('table stopped; the other tables go on', { table: runner.name, error: err });
      this.emit('table-stopped', runner.name, err);
      this.onRunnerIdle();
    });
    const startSignal = AbortSignal.any([this.stopController.signal, this.destroyController.signal]);
    try {
      await runner.start(startSignal);
    } catch (err) {
      if (startSignal.aborted) return;
      if (!isTableStopError(err)) throw err;
      runner.halt(toOtslakeError(err, { table: runner.name }));
      return;
    }
    this.emit('table-ready', runner.name);
    await runner.loop(this.destroyController.signal);
  }

  /** The tables still meant to run: a stopped table (isTableStopError) is out until a restart. */
  private activeRunners(): TableRunner[] {
    return this.runners.filter((r) => !r.halted);
  }

  private onRunnerIdle(): void {
    const active = this.activeRunners();
    if (!active.every((r) => r.idle)) return;
    if (active.length === 0) {
      // Nothing runs: a service stays up to show why (/readyz, /status); --until-idle ends, failed.
      if (this.options.untilIdle) this.shutdown('every table stopped');
      return;
    }
    this.log.info('every table caught up', {});
    this.emit('idle');
    if (this.options.untilIdle) void this.stopOnceIdleConfirmed();
  }

  /**
   * `--until-idle`: every table caught up at one moment, confirmed by one more batch of each. A table
   * that found data becomes busy and its next 'idle' starts another round; one whose batch failed
   * while still flagged idle is asked again.
   */
  private async stopOnceIdleConfirmed(): Promise<void> {
    if (this.confirmingIdle) return;
    this.confirmingIdle = true;
    try {
      while (this.stateValue === 'running' && this.activeRunners().every((r) => r.idle)) {
        const answers = await Promise.all(this.activeRunners().map((r) => r.confirmIdle()));
        if (answers.every(Boolean)) {
          this.shutdown('idle');
          return;
        }
      }
    } finally {
      this.confirmingIdle = false;
    }
  }

  private async drain(): Promise<void> {
    for (const r of this.runners) r.stop();
    // The goodbye (ShutdownTunnel) hands our channels to the fleet's other daemons at once; unsaid, they wait out
    // the Tunnel's client timeout unread. So a destroy (grace expired, a second Ctrl-C) does not cut it short: an
    // abandoned batch holds no position, and the goodbye gets 2 s then instead of 5.
    const bound = AbortSignal.timeout(this.destroyController.signal.aborted ? 2_000 : 5_000);
    await Promise.all(
      this.runners.map((r) => r.close(bound).catch((err: unknown) => this.log.warn('tunnel session shutdown failed', { table: r.name, error: err }))),
    );
    if (this.destroyController.signal.aborted) await this.options.pool.destroy().catch(() => undefined);
    else await this.options.pool.close();
    await this.http?.close();
    if (this.graceTimer) clearTimeout(this.graceTimer);
  }

  private async startHttp(): Promise<void> {
    const { host, port } = this.options.config.http;
    this.http = createHttpServer({
      host,
      port,
      log: this.log,
      metrics: () => this.renderMetrics(),
      readiness: () => this.readiness(),
      status: () => this.status(),
      live: () => this.liveStatus(),
      resync: (table) => void this.startResync(table).catch(() => undefined),
    });
    this.address = await this.http.start();
    this.emit('http-listening', this.address);
  }

  /** Ready = running, and every table started and neither failing nor waiting for a departed client. */
  readiness(): Readiness {
    if (this.stateValue !== 'running') return { ready: false, reason: `state=${this.stateValue}` };
    const notReady = this.runners.filter((r) => !r.ready || r.health.reason !== null);
    if (notReady.length === 0) return { ready: true };
    return { ready: false, reason: notReady.map((r) => `table ${r.name} ${r.ready ? '' : 'not started, '}${r.health.reason ?? 'starting'}`).join('; ') };
  }

  /**
   * Gauges that are read from state rather than fed by events are set at scrape time; a table's state,
   * last successful cycle and lag come from its TableHealth (they move with the clock).
   */
  private renderMetrics(): string {
    this.metrics.readiness(this.readiness().ready);
    for (const r of this.runners) {
      const h = r.health.snapshot();
      this.metrics.tableState(r.name, h.state);
      this.metrics.tableHealth(r.name, { lastSuccessMs: r.health.lastSuccessfulBatchMs, lagMs: h.lagMs, retention: r.retentionStatus() });
    }
    return this.metrics.render();
  }

  /** The status page's data: no configuration, credentials scrubbed from every string. */
  liveStatus(): unknown {
    return liveStatus({
      state: this.stateValue,
      readiness: this.readiness(),
      startedAtMs: this.startedAtMs,
      workers: { capacity: this.options.pool.capacity, running: this.options.pool.running, waiting: this.options.pool.waiting },
      tables: this.runners.map((r) => r.status()),
      activity: this.activity,
      metrics: this.metrics,
      secrets: secretsOf(this.options.config),
      nowMs: Date.now(),
    });
  }

  status(): DaemonStatus {
    return {
      state: this.stateValue,
      tables: this.runners.map((r) => ({ ...r.status(), resync: this.resyncs.of(r.name) })),
      workers: { capacity: this.options.pool.capacity, running: this.options.pool.running, waiting: this.options.pool.waiting },
      config: redactedConfig(this.options.config),
    };
  }

  private transition(next: DaemonState, fields: Record<string, unknown>): void {
    const previous = this.stateValue;
    this.stateValue = next;
    this.metrics.daemonState(next);
    const level = next === 'failed' ? 'error' : 'info';
    this.log[level]('daemon state changed', { from: previous, to: next, ...fields });
    this.emit('state', next, previous);
  }
}
