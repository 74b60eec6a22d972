import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode, OtslakeError } from '../../common/errors.js';
import { createWorkerPool, resolveWorkerFile, type WorkerPool } from '../../workers/pool.js';
import type { ChannelTaskInput } from '../../workers/protocol.js';
import { channelTaskInput } from '../helpers/channel-task-input.js';
import { otslakeRejectionOf } from '../helpers/rejection.js';

const FIXTURE = new URL('../fixtures/worker-pool-task.ts', import.meta.url);

function task(channelId: string, batchId = 'batch-1'): ChannelTaskInput {
  return channelTaskInput({
    batchId,
    table: 'orders',
    tunnelId: 'tunnel-1',
    channelId,
    startToken: 'tok0',
    clientId: 'client-1',
    committedSeq: 3,
    budget: { maxRecords: 10, maxBytes: 1000, maxDurationMs: 1000 },
  });
}

/** Rejects when `promise` has not settled within `ms`: a timeout on a wait, not a delay. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('worker pool (real threads)', () => {
  const gate = new SharedArrayBuffer(16);
  const cells = new Int32Array(gate);
  const workerErrors: OtslakeError[] = [];
  let onWorkerError: (err: OtslakeError) => void = (err) => workerErrors.push(err);
  let pool: WorkerPool;
  const observed: [number, number][] = [];

  beforeAll(() => {
    pool = createWorkerPool({
      filename: FIXTURE,
      threads: 2,
      workerData: { tag: 'setup-42', gate },
      onWorkerError: (err) => onWorkerError(err),
      onTasksChanged: (running, waiting) => observed.push([running, waiting]),
    });
  });
  afterAll(async () => {
    await pool.close();
  });

  it('runs a task and returns its metadata; workerData reaches the thread', async () => {
    const result = await within(pool.run(task('ok')), 20_000, 'ok task');
    expect(result.kind).toBe('ok');
    if (result.kind !== 'ok') return;
    expect(result.endToken).toBe('tok0+setup-42');
    expect(result.files).toEqual([expect.objectContaining({ path: 'part-ok.parquet', numRecords: 1 })]);
    expect(pool.running).toBe(0);
  });

  it('returns a handled failure as data, with the error revived', async () => {
    const result = await within(pool.run(task('handled')), 10_000, 'handled task');
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    expect(result.error).toBeInstanceOf(OtslakeError);
    expect(result.error.code).toBe('OTSL_TUNNEL_SERVER');
    expect(result.error.retriable).toBe(true);
    expect(result.error.context).toMatchObject({ serverCode: 'OTSServerBusy', table: 'orders', channelId: 'handled', batchId: 'batch-1' });
  });

  it('keeps the code of an error thrown inside the task', async () => {
    const result = await within(pool.run(task('throw')), 10_000, 'throwing task');
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    expect(result.error.code).toBe('OTSL_DECODE_CORRUPT_RECORD');
    expect(result.error.message).toBe('bad crc');
    expect(result.error.context).toMatchObject({ byteOffset: 17, channelId: 'throw', tunnelId: 'tunnel-1' });
    expect(result.error.stack).toContain('worker-pool-task.ts');
  });

  it('wraps a thread that exits as OTSL_WORKER_CRASHED and keeps working', async () => {
    const err = await otslakeRejectionOf(within(pool.run(task('exit', 'batch-7')), 10_000, 'exiting task'));
    expect(err.code).toBe('OTSL_WORKER_CRASHED');
    expect(err.retriable).toBe(true);
    expect(err.context).toMatchObject({ table: 'orders', channelId: 'exit', batchId: 'batch-7' });
    expect(err.message).toContain('exited with code: 1');
    const after = await within(pool.run(task('ok')), 20_000, 'task after a crash');
    expect(after.kind).toBe('ok');
  });

  it('wraps an uncaught exception in the thread as OTSL_WORKER_CRASHED', async () => {
    const err = await otslakeRejectionOf(within(pool.run(task('uncaught')), 10_000, 'uncaught task'));
    expect(err.code).toBe('OTSL_WORKER_CRASHED');
    expect(err.message).toContain('uncaught in worker');
    expect((await within(pool.run(task('ok')), 20_000, 'task after a crash')).kind).toBe('ok');
  });

  it('reports a thread that dies between tasks through onWorkerError instead of crashing the process', async () => {
    const reported = new Promise<OtslakeError>((resolve) => (onWorkerError = resolve));
    Atomics.store(cells, 3, 0);
    const result = await within(pool.run(task('late-crash')), 10_000, 'late-crash task');
    expect(result.kind).toBe('ok');
    Atomics.store(cells, 3, 1); // the answer is here: the thread may die now
    Atomics.notify(cells, 3);
    const err = await within(reported, 10_000, 'the pool error event');
    expect(err.code).toBe('OTSL_WORKER_CRASHED');
    expect(err.message).toContain('crash after the task');
    expect((await within(pool.run(task('ok')), 20_000, 'task after a crash')).kind).toBe('ok');
  });

  it('aborts a task already running on a thread (the thread is replaced) and keeps working', async () => {
    Atomics.store(cells, 0, 0);
    Atomics.store(cells, 1, 0);
    const controller = new AbortController();
    const running = pool.run(task('gate', 'b-abort'), { signal: controller.signal });
    // Wait (event-driven, bounded) until the worker is inside the task.
    const entered = Atomics.waitAsync(cells, 1, 0, 20_000);
    if (entered.async) expect(await entered.value).toBe('ok');
    expect(Atomics.load(cells, 1)).toBe(1);
    controller.abort(new Error('shutdown'));
    const err = await otslakeRejectionOf(within(running, 10_000, 'aborted task'));
    expect(err.code).toBe('OTSL_ABORTED');
    expect(err.context).toMatchObject({ channelId: 'gate', batchId: 'b-abort' });
    Atomics.store(cells, 1, 0);
    expect((await within(pool.run(task('ok')), 20_000, 'task after an abort')).kind).toBe('ok');
    expect(hasCode(await otslakeRejectionOf(pool.run(task('ok'), { signal: AbortSignal.abort() })), 'OTSL_ABORTED')).toBe(true);
  });

  it('keeps tasks in flight at most at capacity; the rest wait here, abortable', async () => {
    Atomics.store(cells, 0, 0);
    observed.length = 0;
    const tasks = [1, 2, 3, 4].map((i) => pool.run(task('gate', `b${i}`)));
    const abortable = new AbortController();
    const fifth = pool.run(task('gate', 'b5'), { signal: abortable.signal });
    expect(pool.running).toBe(2);
    expect(pool.waiting).toBe(3);
    abortable.abort();
    expect((await otslakeRejectionOf(fifth)).code).toBe('OTSL_ABORTED');
    expect(pool.waiting).toBe(2);
    Atomics.store(cells, 0, 1);
    Atomics.notify(cells, 0);
    const results = await within(Promise.all(tasks), 20_000, 'gated tasks');
    expect(results.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(Atomics.load(cells, 2)).toBeLessThanOrEqual(2);
    expect(Math.max(...observed.map(([r]) => r))).toBe(2);
    expect(observed.at(-1)).toEqual([0, 0]);
  });
});

describe('worker pool: several tasks per thread', () => {
  it('runs tasksPerThread tasks on one thread at once, so their waits overlap', async () => {
    const gate = new SharedArrayBuffer(16);
    const cells = new Int32Array(gate);
    const pool = createWorkerPool({ filename: FIXTURE, threads: 1, tasksPerThread: 3, workerData: { tag: 't', gate } });
    try {
      expect(pool.capacity).toBe(3);
      const tasks = [1, 2, 3].map((i) => pool.run(task('gate', `b${i}`)));
      // All three are inside the gate on the one thread before it opens.
      for (let inside = Atomics.load(cells, 1); inside < 3; inside = Atomics.load(cells, 1)) {
        const w = Atomics.waitAsync(cells, 1, inside, 20_000);
        if (w.async) expect(await w.value).not.toBe('timed-out');
      }
      Atomics.store(cells, 0, 1);
      Atomics.notify(cells, 0);
      const results = await within(Promise.all(tasks), 20_000, 'gated tasks');
      expect(results.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok']);
      expect(Atomics.load(cells, 2)).toBe(3);
    } finally {
      await pool.close();
    }
  });
});

describe('worker pool lifecycle', () => {
  it('destroy() rejects running tasks with OTSL_ABORTED; run() after close is refused', async () => {
    const pool = createWorkerPool({ filename: FIXTURE, threads: 1, workerData: { tag: 't', gate: new SharedArrayBuffer(12) } });
    const hanging = otslakeRejectionOf(pool.run(task('hang')));
    const queued = otslakeRejectionOf(pool.run(task('ok')));
    expect(pool.waiting).toBe(1);
    await pool.destroy();
    expect((await hanging).code).toBe('OTSL_ABORTED');
    expect((await queued).code).toBe('OTSL_ABORTED');
    expect((await otslakeRejectionOf(pool.run(task('ok')))).code).toBe('OTSL_DAEMON_STATE');
  });

  it('resolves the worker module beside its caller: .ts under tsx/vitest, .js from dist', () => {
    expect(resolveWorkerFile('file:///app/workers/pool.ts', 'channel-task')).toBe('file:///app/workers/channel-task.ts');
    expect(resolveWorkerFile('file:///app/dist/workers/pool.js', 'channel-task')).toBe('file:///app/dist/workers/channel-task.js');
  });

  it('rejects a bad thread count with a clear error', () => {
    expect(() => createWorkerPool({ filename: FIXTURE, threads: 0 })).toThrow(/threads must be an integer ≥ 1, got 0/);
  });
});
