/**
 * The composition root: config → clients, lake store, worker pool, metrics → Daemon.run().
 * The only place that touches process signals: the first SIGTERM/SIGINT drains gracefully (bounded by
 * shutdown.graceMs inside the Daemon), a second one destroys at once. Nothing is lost either way:
 * uncommitted files are invisible and their channels restart from the position in force.
 */
import { toOtslakeError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import type { ResolvedConfig } from '../config/load.js';
import { createWorkerPool, entryWorkerFile } from '../workers/pool.js';
import { workerSetupFrom } from '../workers/worker-setup.js';
import { Daemon, type DaemonOptions } from './daemon.js';
import { openLakeRoot, openTunnelClient } from './connections.js';
import { Metrics } from './metrics.js';
import type { SessionSettings } from '../pipeline/table-runner.js';
import { tableDescriber } from '../pipeline/table-schema.js';

export interface BuildDaemonOptions {
  untilIdle?: boolean;
  /** With untilIdle: give up (exit 1, OTSL_NOT_CAUGHT_UP) after this long. */
  idleTimeoutMs?: number;
  http?: boolean;
  log?: Logger;
  session?: SessionSettings;
  /** Worker module (tests); defaults to workers/entry beside this build. */
  workerFile?: string;
  /** SIGHUP: reads the config again (the file of `run --config`); a ConfigError keeps the running config. */
  reloadConfig?: () => ResolvedConfig;
  /** The clock of table health and the retention guard (tests: the emulator's clock); Date.now by default. */
  clock?: () => number;
}

/** Builds a Daemon and everything it uses from a resolved config. */
export function buildDaemon(config: ResolvedConfig, options: BuildDaemonOptions = {}): { daemon: Daemon; log: Logger; close(): void } {
  const log = options.log ?? createLogger({ level: config.log.level, bindings: { service: 'otslake' } });
  const metrics = new Metrics();
  const tunnelClient = openTunnelClient(config, { logger: log.child({ component: 'tunnel' }) });

  const lakeRoot = openLakeRoot(config);
  const pool = createWorkerPool({
    filename: options.workerFile ?? entryWorkerFile(),
    threads: config.workers.threads,
    tasksPerThread: config.workers.tasksPerThread,
    workerData: workerSetupFrom(config),
    closeTimeoutMs: config.shutdown.graceMs,
    log,
    onTasksChanged: (running, waiting) => metrics.workerTasksObserved(running, waiting),
    onWorkerError: (err) => metrics.errorOccurred(err.code),
  });
  const daemonOptions: DaemonOptions = {
    config,
    tunnelClient,
    lakeRoot,
    pool,
    describeTable: tableDescriber(config.connections.tablestore),
    metrics,
    log,
    ...(options.http !== undefined ? { http: options.http } : {}),
    ...(options.session ? { session: options.session } : {}),
    ...(options.untilIdle ? { untilIdle: true } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
  return {
    daemon: new Daemon(daemonOptions),
    log,
    close: () => {
      tunnelClient.close();
      void lakeRoot.close?.();
    },
  };
}

/**
 * Node's process warnings (deprecations, MaxListenersExceededWarning…) as JSON log lines instead of the
 * plain-text lines Node prints to stderr by default, which break a JSON log. Returns the undo.
 */
export function routeProcessWarnings(log: Logger): () => void {
  const defaults = process.listeners('warning');
  for (const l of defaults) process.off('warning', l);
  const onWarning = (w: Error & { code?: string }) => log.warn('node warning', { name: w.name, code: w.code, message: w.message });
  process.on('warning', onWarning);
  return () => {
    process.off('warning', onWarning);
    for (const l of defaults) process.on('warning', l);
  };
}

/** Runs the daemon until it stops; returns the process exit code. Installs the signal handlers. */
export async function runDaemon(config: ResolvedConfig, options: BuildDaemonOptions = {}): Promise<number> {
  const { daemon, close, log } = buildDaemon(config, options);
  const restoreWarnings = routeProcessWarnings(log);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) daemon.shutdown(signal);
    else daemon.destroy();
  };
  // SIGHUP (systemctl reload): the config again; an invalid one is refused with validate-config's problems.
  const onReload = () => {
    if (!options.reloadConfig) return;
    let next: ResolvedConfig;
    try {
      next = options.reloadConfig();
    } catch (err) {
      const e = toOtslakeError(err);
      log.error('config reload rejected; the running config stays', { error: e, problems: (err as { issues?: unknown }).issues ?? [] });
      return;
    }
    daemon.reload(next).catch((err: unknown) => log.error('config reload failed', { error: err }));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onReload);
  try {
    await daemon.run();
    return 0;
  } catch {
    // The daemon logged the fatal error with its context.
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onReload);
    restoreWarnings();
    close();
  }
}
