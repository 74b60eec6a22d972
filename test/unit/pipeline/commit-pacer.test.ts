/**
 * The commit budget's arithmetic: writers counted from the commits seen over the window, the paced
 * interval writers ÷ budget, expiry, and one count per version however often it is seen.
 */
import { describe, expect, it } from 'vitest';
import type { CommitSummary } from '../../../lake/commit-summary.js';
import { CommitPacer } from '../../../pipeline/commit-pacer.js';

const commitBy = (version: number, writer: string | null): CommitSummary => ({
  version,
  timestamp: 0,
  commitInfo: writer === null ? { operation: 'OPTIMIZE' } : ({ operation: 'STREAMING UPDATE', otslake: { writer } } as never),
  txns: [],
  metadata: null,
  protocol: null,
});

describe('CommitPacer', () => {
  it('alone, paces at 1 / budget; with k writers at k / budget, their rate jittered by at most ±20 % (the interval ×0.83–1.25)', () => {
    const pacer = new CommitPacer({ commitsPerSecond: 10, writer: 'me', random: () => 0.5 });
    expect(pacer.status(1_000)).toMatchObject({ writers: 1, minIntervalMs: 100 });
    expect(pacer.pacedDelayMs(1_000, 1_000)).toBe(100);
    pacer.observe([commitBy(1, 'a'), commitBy(2, 'b'), commitBy(3, null)], 1_000);
    pacer.committed(4, 1_000);
    expect(pacer.status(1_000)).toMatchObject({ writers: 3, minIntervalMs: 300 });
    expect(pacer.pacedDelayMs(1_000, 1_100)).toBe(200);
    const low = new CommitPacer({ commitsPerSecond: 10, writer: 'me', random: () => 0 });
    const high = new CommitPacer({ commitsPerSecond: 10, writer: 'me', random: () => 1 });
    for (const p of [low, high]) p.observe([commitBy(1, 'a')], 0);
    expect(low.pacedDelayMs(0, 0)).toBeCloseTo(250, 5);
    expect(high.pacedDelayMs(0, 0)).toBeCloseTo(200 / 1.2, 5);
  });

  it('counts each version once and forgets writers that stopped committing', () => {
    const pacer = new CommitPacer({ commitsPerSecond: 4, writer: 'me', windowMs: 10_000 });
    pacer.observe([commitBy(1, 'a'), commitBy(2, 'a')], 0);
    pacer.observe([commitBy(2, 'a')], 500);
    expect(pacer.status(1_000)).toMatchObject({ writers: 2, commitRate: 2 });
    expect(pacer.status(20_000)).toMatchObject({ writers: 1, commitRate: 0, minIntervalMs: 250 });
  });
});
