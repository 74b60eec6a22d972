/**
 * Exponential backoff with full jitter. Retries only errors that say they are retriable
 * (`retriable: true`), never programmer errors, and gives up with OTSL_RETRIES_EXHAUSTED
 * carrying the last cause. Waits honour an AbortSignal so that shutdown is never held up.
 */
import { OtslakeError, isProgrammerError } from './errors.js';

export interface RetryPolicy {
  /** Attempts in total, the first one included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** Gives up once this much time has passed since the first attempt (0 = no limit). */
  maxElapsedMs: number;
}

const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  multiplier: 2,
  maxElapsedMs: 60_000,
};

export interface RetryOptions {
  policy?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Overrides the default test `err.retriable === true`. */
  isRetriable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

function isRetriable(err: unknown): boolean {
  if (isProgrammerError(err)) return false;
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (attempt - 1));
  // Full jitter: spreads a herd of clients that failed together.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const retriable = options.isRetriable ?? isRetriable;
  const started = Date.now();
  let attempt = 0;
  for (;;) {
    attempt += 1;
    throwIfAborted(options.signal);
    try {
      return await fn(attempt);
    } catch (err) {
      if (!retriable(err)) throw err;
      const delay = backoffDelay(policy, attempt);
      const elapsed = Date.now() - started;
      if (attempt >= policy.maxAttempts || (policy.maxElapsedMs > 0 && elapsed + delay > policy.maxElapsedMs)) {
        const context = err instanceof OtslakeError ? { ...err.context, attempts: attempt } : { attempts: attempt };
        throw new OtslakeError('OTSL_RETRIES_EXHAUSTED', `gave up after ${attempt} attempts: ${(err as Error).message ?? String(err)}`, {
          cause: err,
          context,
          retriable: false,
        });
      }
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OtslakeError('OTSL_ABORTED', 'operation aborted', { cause: signal.reason });
}

/** An AbortSignal-aware delay: resolves after `ms`, rejects with OTSL_ABORTED on abort. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new OtslakeError('OTSL_ABORTED', 'operation aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new OtslakeError('OTSL_ABORTED', 'operation aborted', { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
