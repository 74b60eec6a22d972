import { describe, expect, it } from 'vitest';
import { WakeableDelay } from '../../../common/wakeable-delay.js';

const LONG = 60_000;

describe('WakeableDelay', () => {
  it('ends a wait early on wake()', async () => {
    const d = new WakeableDelay();
    const waiting = d.wait(LONG);
    d.wake();
    await waiting;
  });

  it('remembers a wake() that came while nobody waited, for the next wait only', async () => {
    const d = new WakeableDelay();
    d.wake();
    d.wake();
    await d.wait(LONG); // returns at once
    let ended = false;
    const second = d.wait(LONG).then(() => (ended = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(ended).toBe(false); // the pending wake was used up by the first wait
    d.wake();
    await second;
  });

  it('ends on abort, and at once when already aborted', async () => {
    const d = new WakeableDelay();
    const ac = new AbortController();
    const waiting = d.wait(LONG, ac.signal);
    ac.abort();
    await waiting;
    await d.wait(LONG, ac.signal);
  });

  it('ends by itself after the interval', async () => {
    const started = Date.now();
    await new WakeableDelay().wait(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });
});
