/**
 * Waiting for work that cannot itself be cancelled (an ali-oss request, a task already on a worker
 * thread): an abort stops the wait, the work goes on and its result is dropped.
 */

/** `promise`'s outcome, or a rejection with `abortError()` as soon as `signal` fires. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, abortError: () => unknown = () => signal?.reason): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
