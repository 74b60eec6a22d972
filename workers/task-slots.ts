/**
 * The pool's bound on tasks in flight: a counting semaphore whose waiters are visible (for the
 * worker-queue metric) and can be abandoned through their AbortSignal or rejected all at once when
 * the pool closes. A released slot passes straight to the next waiter, so `running` never dips
 * below capacity in between.
 */
import type { OtslakeError } from '../common/errors.js';

interface Waiter {
  resolve: () => void;
  reject: (err: OtslakeError) => void;
}

export class TaskSlots {
  private runningCount = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly capacity: number,
    /** Called whenever running/waiting change. */
    private readonly onChange: (running: number, waiting: number) => void = () => undefined,
  ) {}

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with a slot; rejects with `aborted()` when `signal` fires first. */
  acquire(signal: AbortSignal | undefined, aborted: () => OtslakeError): Promise<void> {
    if (this.runningCount < this.capacity) {
      this.runningCount++;
      this.changed();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        this.changed();
        reject(aborted());
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          this.changed();
          resolve();
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.changed();
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next.resolve();
    else this.runningCount--;
    this.changed();
  }

  /** Every waiter is rejected with `error()`; running tasks keep their slots. */
  rejectWaiting(error: () => OtslakeError): void {
    for (const w of this.waiters.splice(0)) w.reject(error());
    this.changed();
  }

  private changed(): void {
    this.onChange(this.runningCount, this.waiters.length);
  }
}
