/**
 * tablestore-local's clock: real time plus an offset tests set (admin `POST /_admin/clock`), so
 * stream retention, tunnel expiry and client timeouts can be driven forward without waiting. The
 * table store, the table API and the Tunnel service all read this one clock. Request signatures
 * are still checked against real time: the SDKs sign with theirs.
 */
export class EmulatorClock {
  private offset = 0;

  /** ms since epoch. */
  nowMs(): number {
    return Date.now() + this.offset;
  }

  /** µs since epoch, µs resolution, never backwards while the offset only grows. */
  nowUs(): bigint {
    return BigInt(Math.floor((performance.timeOrigin + performance.now() + this.offset) * 1000));
  }

  get offsetMs(): number {
    return this.offset;
  }

  /** Moves the clock forward by `ms` (never back: sequence timestamps must keep rising). */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`the emulator clock only moves forward; got ${ms} ms`);
    this.offset += ms;
    return this.offset;
  }
}
