/**
 * The commit budget under a crowd, on a deterministic clock: N CommitPacers (one per simulated daemon)
 * share one in-memory Delta log. Each daemon, like the table runner and commit(): connects and counts
 * the tunnel's clients, waits its start delay, then per batch reads the commits it has not seen,
 * works, puts the next version; a lost put pauses (backoffAfterLostRace), reads the winners and puts
 * again right after. The next batch starts when the pacer allows. Every daemon is always behind, so
 * only the budget holds it back. The seed is printed in the test name, so a failure replays.
 */
import { describe, expect, it } from 'vitest';
import type { CommitSummary } from '../../../lake/commit-summary.js';
import { CommitPacer } from '../../../pipeline/commit-pacer.js';
import { seededRandom } from '../../helpers/seeded-random.js';

interface Crowd {
  daemons: number;
  budget: number;
  seconds: number;
  /** Count the tunnel's clients (DescribeTunnel) at start and every describeMs; false = commits alone. */
  tunnelClients: boolean;
  seed: number;
}

interface Outcome {
  commitTimes: number[];
  firstCommitMs: number[];
  failedBatches: number;
  maxAttempts: number;
}

const WORK_MS = 20; // refresh → read records → write files, before the put
const READ_PUT_MS = 3; // reading the winners, then the put (during which others may land)
const DESCRIBE_MS = 30_000;
const MAX_ATTEMPTS = 100;

const summary = (version: number, writer: string): CommitSummary => ({
  version,
  timestamp: 0,
  commitInfo: { operation: 'STREAMING UPDATE', otslake: { writer } } as never,
  txns: [],
  metadata: null,
  protocol: null,
});

function simulate(crowd: Crowd): Outcome {
  const random = seededRandom(crowd.seed);
  const log: CommitSummary[] = [];
  const queue: { at: number; seq: number; run: (now: number) => void }[] = [];
  let seq = 0;
  const at = (when: number, run: (now: number) => void) => {
    const e = { at: when, seq: seq++, run };
    let i = queue.length;
    while (i > 0 && (queue[i - 1]!.at > e.at || (queue[i - 1]!.at === e.at && queue[i - 1]!.seq > e.seq))) i--;
    queue.splice(i, 0, e);
  };
  const out: Outcome = { commitTimes: [], firstCommitMs: [], failedBatches: 0, maxAttempts: 0 };
  let connected = 0;
  const endMs = crowd.seconds * 1000;

  for (let d = 0; d < crowd.daemons; d++) {
    const writer = `d${d}`;
    const pacer = new CommitPacer({ commitsPerSecond: crowd.budget, writer, random });
    let read = 0; // versions of the log this daemon has read
    let committedOnce = false;
    let startMs = 0;
    const catchUp = (now: number) => {
      pacer.observe(log.slice(read), now);
      read = log.length;
    };
    const batch = (batchStart: number) => {
      if (batchStart >= endMs) return;
      catchUp(batchStart);
      let version = read;
      let lost = 0;
      const put = (now: number) => {
        if (log.length === version) {
          log.push(summary(version, writer));
          read = log.length;
          pacer.committed(version, now);
          out.commitTimes.push(now);
          out.maxAttempts = Math.max(out.maxAttempts, lost + 1);
          if (!committedOnce) out.firstCommitMs.push(now - startMs);
          committedOnce = true;
          at(now + pacer.pacedDelayMs(batchStart, now), batch);
          return;
        }
        lost++;
        if (lost >= MAX_ATTEMPTS) {
          out.failedBatches++;
          at(now + pacer.pacedDelayMs(batchStart, now), batch);
          return;
        }
        const pause = pacer.backoffAfterLostRace([], lost, now);
        at(now + pause, (t) => {
          catchUp(t);
          version = read;
          at(t + READ_PUT_MS, put);
        });
      };
      at(batchStart + WORK_MS, put);
    };
    at(random() * 100, (now) => {
      startMs = now;
      connected++;
      if (crowd.tunnelClients) pacer.observeClients(connected);
      const describe = (t: number) => {
        pacer.observeClients(connected);
        if (t + DESCRIBE_MS < endMs) at(t + DESCRIBE_MS, describe);
      };
      if (crowd.tunnelClients) at(now + DESCRIBE_MS, describe);
      at(now + pacer.startDelayMs(now), batch);
    });
  }
  while (queue.length > 0) {
    const e = queue.shift()!;
    if (e.at > endMs + 60_000) break;
    e.run(e.at);
  }
  return out;
}

const rate = (times: number[], fromS: number, toS: number) => times.filter((t) => t >= fromS * 1000 && t < toS * 1000).length / (toS - fromS);

describe('CommitPacer under a crowd that starts together', () => {
  for (const daemons of [8, 32, 128]) {
    it(`${daemons} daemons, budget 10/s: within 5 % of the budget once started, everyone committed, no batch failed (seed 7)`, () => {
      const o = simulate({ daemons, budget: 10, seconds: 120, tunnelClients: true, seed: 7 });
      const steady = rate(o.commitTimes, 30, 120);
      expect(steady).toBeLessThanOrEqual(10.5);
      // Not starved either: the budget is what the table gets.
      expect(steady).toBeGreaterThan(8.5);
      expect(o.firstCommitMs).toHaveLength(daemons);
      // Everyone's first commit within about two paced intervals of the whole crowd (daemons ÷ budget).
      expect(Math.max(...o.firstCommitMs)).toBeLessThan(Math.max(2_000, (2 * daemons * 1000) / 10));
      expect(o.failedBatches).toBe(0);
    });
  }

  it('without the tunnel clients, the commits alone bring 128 daemons to the budget', () => {
    const o = simulate({ daemons: 128, budget: 10, seconds: 150, tunnelClients: false, seed: 11 });
    expect(rate(o.commitTimes, 60, 150)).toBeLessThanOrEqual(10.5);
    expect(o.firstCommitMs).toHaveLength(128);
    expect(o.failedBatches).toBe(0);
  });
});

describe('CommitPacer writer memory', () => {
  it('keeps counting a writer between two sightings ~2.4 paced intervals apart, forgets it after 4', () => {
    const pacer = new CommitPacer({ commitsPerSecond: 10, writer: 'me', random: () => 0.5 });
    pacer.observe(
      Array.from({ length: 127 }, (_, i) => summary(i, `w${i}`)),
      0,
    );
    expect(pacer.status(0)).toMatchObject({ writers: 128, minIntervalMs: 12_800 });
    // A writer commits up to 1.2 intervals after its last commit, and we see it at our next batch, up to
    // 1.2 intervals later: 30 s here. Counting over 2 intervals (25.6 s) forgot all of them meanwhile.
    expect(pacer.status(30_000).writers).toBe(128);
    expect(pacer.status(4 * 12_800 + 1).writers).toBe(1);
  });

  it('takes the tunnel clients as a floor until the next DescribeTunnel says otherwise', () => {
    const pacer = new CommitPacer({ commitsPerSecond: 10, writer: 'me', random: () => 0.5 });
    pacer.observeClients(40);
    expect(pacer.status(0)).toMatchObject({ writers: 40, minIntervalMs: 4_000 });
    expect(pacer.startDelayMs(0)).toBe(2_000);
    pacer.observe([summary(1, 'a')], 0);
    expect(pacer.status(0).writers).toBe(40);
    pacer.observeClients(1);
    expect(pacer.status(0).writers).toBe(2);
    expect(new CommitPacer({ commitsPerSecond: 10, writer: 'me' }).startDelayMs(0)).toBe(0);
  });
});
