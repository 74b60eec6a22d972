/**
 * A pause between rounds of a background loop (heartbeats, batches) that ends early when something
 * the loop must react to happens. A wake() that arrives while the loop is busy rather than waiting is
 * remembered and ends the next wait at once: otherwise an event during a round would be noticed only
 * a whole interval later. An abort ends the wait too (resolves; the loop checks its own state).
 */
export class WakeableDelay {
  private waiter: (() => void) | null = null;
  private pending = false;

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.pending || signal?.aborted) {
        this.pending = false;
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiter = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.waiter = done;
    });
  }

  wake(): void {
    if (this.waiter) this.waiter();
    else this.pending = true;
  }
}
