/**
 * The worker pool: the only caller of piscina's `run`. It bounds in-flight tasks to the pool's
 * capacity (so piscina's own queue stays empty and waiting work is visible here), revives handled
 * failures from data, and turns whatever else reaches the main thread — a thread that died, a raw
 * throw that bypassed createTaskHandler — into OTSL_WORKER_CRASHED with the task's context.
 *
 * Worker files: `.ts` runs under tsx (vitest, `npx tsx`), `.js` from dist/ in production; the
 * production entry is `entryWorkerFile()` (workers/entry.ts).
 */
import { raceAbort } from '../common/abort.js';
import { Piscina } from 'piscina';
import { deserializeError, OtslakeError, type ErrorContext, type SerializedError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { contextOf, describeTask, runsAlone, type TaskInput, type TaskResults } from './protocol.js';
import { TaskSlots } from './task-slots.js';

export interface WorkerPoolOptions {
  /** Absolute path or file: URL of the worker module (its default export handles tasks). */
  readonly filename: string | URL;
  /** Maximum threads (workers.threads). */
  readonly threads: number;
  /**
   * Tasks one thread runs at once (workers.tasksPerThread, whose default is 2; 1 when left out here): more than one lets a thread's
   * tasks overlap their network waits (ReadRecords, uploads, offset entries) — on OSS each is a round
   * trip of tens of ms — while their CPU work still takes turns. Tasks in flight = threads × this.
   */
  readonly tasksPerThread?: number;
  /** Per-thread setup, sent once: endpoints, credentials, lake root. Must be structured-cloneable. */
  readonly workerData?: unknown;
  /** Threads above one exit after this long without work. */
  readonly idleTimeoutMs?: number;
  /** close() waits this long for running tasks before terminating threads. */
  readonly closeTimeoutMs?: number;
  readonly log?: Logger;
  /** A thread died while no task of it was in flight (piscina's pool 'error' event). */
  readonly onWorkerError?: (err: OtslakeError) => void;
  /** Called whenever running/waiting change, e.g. to feed Metrics.workerTasksObserved. */
  readonly onTasksChanged?: (running: number, waiting: number) => void;
}

/** A task's result on the main thread: the kind's Ok result, or a handled failure with its error revived. */
export type TaskOutcome<T extends TaskInput> = TaskResults[T['kind']] | { readonly kind: 'failed'; readonly error: OtslakeError };

export interface WorkerPool {
  /** Worker threads at most (workers.threads). */
  readonly threads: number;
  /** Tasks in flight at most: threads × tasksPerThread. */
  readonly capacity: number;
  /** Tasks handed to a thread. */
  readonly running: number;
  /** Tasks waiting here for a free slot. */
  readonly waiting: number;
  /**
   * Runs one task of any kind. Resolves with the result (a handled failure is `{kind:'failed'}` with
   * a revived OtslakeError); rejects with OTSL_WORKER_CRASHED (retriable) when the thread died, or
   * OTSL_ABORTED when `signal` fired or the pool was destroyed.
   */
  run<T extends TaskInput>(input: T, options?: { signal?: AbortSignal }): Promise<TaskOutcome<T>>;
  /** Graceful: no new tasks, running ones finish (up to closeTimeoutMs), waiting ones are rejected. */
  close(): Promise<void>;
  /** Immediate: running and waiting tasks are rejected with OTSL_ABORTED, threads terminated. */
  destroy(): Promise<void>;
}

/** `.ts` beside a `.ts` caller (tsx/vitest), `.js` beside a compiled caller (dist/). */
export function resolveWorkerFile(callerUrl: string, basename: string): string {
  return new URL(`./${basename}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl).href;
}

/** The production worker module, workers/entry (`.ts` or `.js` like this build). */
export function entryWorkerFile(): string {
  return resolveWorkerFile(import.meta.url, 'entry');
}

/** How a task is named in errors and logs. */
interface TaskLabel {
  readonly noun: string;
  readonly description: string;
  readonly context: ErrorContext;
}

function isResult(x: unknown): x is { kind: 'ok' } | { kind: 'failed'; error: SerializedError } {
  return typeof x === 'object' && x !== null && ((x as { kind?: unknown }).kind === 'ok' || (x as { kind?: unknown }).kind === 'failed');
}

/** Makes a task exclusive on its thread (piscina runs a task with a signal alone) when there is nothing to abort it with. */
const NEVER_ABORTED = new AbortController().signal;

/** The piscina pool behind the worker pool: tasksPerThread tasks per thread, threads never parked in Atomics.wait. */
function openPiscina(options: WorkerPoolOptions, filename: string, tasksPerThread: number): Piscina {
  return new Piscina({
    filename,
    // Node 20 cannot load .ts in a worker; tsx's loader can.
    ...(filename.endsWith('.ts') ? { execArgv: ['--import', 'tsx'] } : {}),
    minThreads: 1,
    maxThreads: options.threads,
    concurrentTasksPerWorker: tasksPerThread,
    idleTimeout: options.idleTimeoutMs ?? 60_000,
    closeTimeout: options.closeTimeoutMs ?? 30_000,
    // 'sync' parks idle threads in Atomics.wait, freezing their event loop: keep-alive sockets and
    // timers of a worker's Tunnel/OSS clients would stall between tasks.
    atomics: 'disabled',
    ...(options.workerData === undefined ? {} : { workerData: options.workerData }),
  });
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  if (!Number.isInteger(options.threads) || options.threads < 1) {
    throw new OtslakeError('OTSL_INTERNAL', `worker pool threads must be an integer ≥ 1, got ${options.threads}`);
  }
  const filename = options.filename instanceof URL ? options.filename.href : options.filename;
  const log = (options.log ?? silentLogger).child({ component: 'worker-pool' });
  const tasksPerThread = options.tasksPerThread ?? 1;
  if (!Number.isInteger(tasksPerThread) || tasksPerThread < 1) {
    throw new OtslakeError('OTSL_INTERNAL', `worker pool tasksPerThread must be an integer ≥ 1, got ${tasksPerThread}`);
  }
  const capacity = options.threads * tasksPerThread;
  const piscina = openPiscina(options, filename, tasksPerThread);

  const slots = new TaskSlots(capacity, options.onTasksChanged);
  let state: 'open' | 'closing' | 'destroyed' = 'open';

  // Without a listener, an 'error' from a thread that died between tasks would crash the daemon.
  piscina.on('error', (err: unknown) => {
    if (state !== 'open') {
      log.warn('worker pool stopped with tasks still running', { error: err });
      return;
    }
    const wrapped = new OtslakeError('OTSL_WORKER_CRASHED', `a worker thread failed outside any task: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
      retriable: true,
    });
    log.error('worker thread failed', { error: wrapped });
    options.onWorkerError?.(wrapped);
  });

  function abortedError(task: TaskLabel, message: string, cause?: unknown): OtslakeError {
    return new OtslakeError('OTSL_ABORTED', `${task.noun} ${message}`, { context: task.context, ...(cause === undefined ? {} : { cause }) });
  }

  function rejectWaiters(message: string): void {
    slots.rejectWaiting(() => new OtslakeError('OTSL_ABORTED', message));
  }

  async function run<T extends TaskInput>(input: T, runOptions: { signal?: AbortSignal } = {}): Promise<TaskOutcome<T>> {
    const task: TaskLabel = { ...describeTask(input), context: contextOf(input) };
    const signal = runOptions.signal;
    if (state !== 'open') throw new OtslakeError('OTSL_DAEMON_STATE', `worker pool is ${state}`, { context: task.context });
    if (signal?.aborted) throw abortedError(task, 'aborted before it started', signal.reason);
    await slots.acquire(signal, () => abortedError(task, 'aborted while waiting for a worker thread', signal?.reason));
    // A task that piscina sees as abortable (it carries a signal) runs alone on its thread, and an abort
    // replaces the thread: so every task runs with one task per thread, and the kinds that must run
    // alone always do. Other tasks with tasksPerThread > 1 carry no signal to piscina and share their
    // thread: an abort then stops waiting for the task, which ends in the worker (its files stay
    // invisible) or with destroy() — the daemon's only abort is its destroy. A slot is freed when its
    // task really ends.
    const exclusive = tasksPerThread === 1 || runsAlone(input.kind);
    const running = piscina.run(input, exclusive ? { signal: signal ?? NEVER_ABORTED } : {});
    void running.then(
      () => slots.release(),
      () => slots.release(),
    );
    let raw: unknown;
    try {
      raw = await raceAbort(running, signal);
    } catch (err) {
      if (signal?.aborted) throw abortedError(task, 'aborted', signal.reason);
      // close() past its timeout and destroy() terminate threads: that is a stop, not a crash.
      if (state !== 'open') throw abortedError(task, `stopped: worker pool ${state}`, err);
      const wrapped = new OtslakeError('OTSL_WORKER_CRASHED', `worker failed running ${task.description}: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
        retriable: true,
        context: task.context,
      });
      log.error(`${task.noun} crashed`, { error: wrapped });
      throw wrapped;
    }
    if (!isResult(raw)) {
      throw new OtslakeError('OTSL_INTERNAL', `worker returned something that is not a ${task.noun} result`, { context: task.context });
    }
    // The worker's handler for this kind produced the raw result (createTaskHandler), so its shape is the kind's.
    return raw.kind === 'ok' ? (raw as TaskResults[T['kind']]) : { kind: 'failed', error: deserializeError(raw.error) };
  }

  let closing: Promise<void> | null = null;

  return {
    threads: options.threads,
    capacity,
    get running() {
      return slots.running;
    },
    get waiting() {
      return slots.waiting;
    },
    run,
    close() {
      if (closing) return closing;
      state = 'closing';
      rejectWaiters('worker pool is closing');
      closing = piscina.close();
      return closing;
    },
    async destroy() {
      state = 'destroyed';
      rejectWaiters('worker pool destroyed');
      await piscina.destroy();
    },
  };
}
