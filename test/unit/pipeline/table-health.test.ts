/**
 * TableHealth on a fake clock: states with since-when, lastError with its time cleared on recovery,
 * lag as the age of the oldest change not yet landed (0 when caught up), backoff bounds, and one log
 * line per state change plus a periodic summary instead of one per attempt. OwnerWatch: a client
 * holding channels is waiting until it checkpoints or outlives a client timeout.
 */
import { describe, expect, it } from 'vitest';
import { OtslakeError } from '../../../common/errors.js';
import { TableHealth } from '../../../pipeline/table-health.js';
import { OwnerWatch, type ChannelProgress } from '../../../pipeline/tunnel-progress.js';
import { recordingLogger } from '../../helpers/recording-logger.js';

function setup() {
  let now = 1_000_000;
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const health = new TableHealth({
    table: 't',
    log: recordingLogger(lines),
    backoff: { initialMs: 1_000, maxMs: 60_000 },
    summaryIntervalMs: 60_000,
    now: () => now,
    random: () => 1,
  });
  return { health, lines, advance: (ms: number) => (now += ms), now: () => now };
}

const lakeDown = new OtslakeError('OTSL_LAKE_IO', 'ENOSPC: no space left on device');

describe('TableHealth', () => {
  it('moves the last successful batch on empty batches, and keeps lag 0 while caught up', () => {
    const { health, advance } = setup();
    health.started();
    health.batchSucceeded([{ channelId: 'a', records: 0, readToTail: true, lastRecordTimeMs: null }]);
    health.caughtUp();
    const first = health.snapshot().lastSuccessfulBatchAt;
    advance(30_000);
    health.batchSucceeded([{ channelId: 'a', records: 0, readToTail: true, lastRecordTimeMs: null }]);
    health.caughtUp();
    const s = health.snapshot();
    expect(Date.parse(s.lastSuccessfulBatchAt!) - Date.parse(first!)).toBe(30_000);
    expect(s).toMatchObject({ state: 'caught-up', lagMs: 0, lastError: null });
  });

  it('lag is the age of the oldest change not landed: a channel read up to a budget, then to its end', () => {
    const { health, advance, now } = setup();
    health.started();
    health.batchSucceeded([
      { channelId: 'a', records: 100, readToTail: false, lastRecordTimeMs: now() - 5_000 },
      { channelId: 'b', records: 0, readToTail: true, lastRecordTimeMs: null },
    ]);
    health.busy();
    expect(health.lagMs()).toBe(5_000);
    advance(1_000);
    expect(health.lagMs()).toBe(6_000);
    health.batchSucceeded([{ channelId: 'a', records: 0, readToTail: true, lastRecordTimeMs: null }]);
    expect(health.lagMs()).toBe(0);
  });

  it('failing: state with since, lastError with its time, backoff doubling to the cap, lag from the last success; cleared on recovery', () => {
    const { health, lines, advance, now } = setup();
    health.started();
    health.batchSucceeded([]);
    health.caughtUp();
    const lastOk = now();
    advance(10);
    const delays = [];
    for (let i = 0; i < 10; i++) {
      delays.push(health.failed(lakeDown, 'channel tasks', 2));
      advance(delays.at(-1)!);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
    const s = health.snapshot();
    expect(s.state).toBe('failing');
    expect(s.lastError).toMatchObject({ code: 'OTSL_LAKE_IO', message: lakeDown.message });
    expect(Date.parse(s.lastError!.at)).toBeGreaterThan(lastOk);
    expect(s.failures).toBe(10);
    expect(s.lagMs).toBe(now() - lastOk);
    expect(health.reason).toMatch(/^failing since .*: OTSL_LAKE_IO: ENOSPC/);
    // One line when it started failing, then summaries at most once a minute: not one per attempt.
    const failingLines = lines.filter((l) => l.msg === 'table state changed' && l.fields.to === 'failing');
    const summaries = lines.filter((l) => l.msg === 'table still failing');
    expect(failingLines).toHaveLength(1);
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil((now() - lastOk) / 60_000));
    expect(summaries.at(-1)!.fields).toMatchObject({ attempts: expect.any(Number), failedTasks: expect.any(Number) });

    health.batchSucceeded([]);
    health.caughtUp();
    expect(health.snapshot()).toMatchObject({ state: 'caught-up', lastError: null, failures: 0, lagMs: 0, nextAttemptInMs: null });
    expect(lines.find((l) => l.fields.recovered === true)?.fields).toMatchObject({ attempts: 10, failedTasks: 20 });
  });

  it('a failed channel stays pending after a batch that succeeds without it (no channel held after a reconnect), until it is read to its end', () => {
    const { health, advance, now } = setup();
    health.started();
    health.batchSucceeded([{ channelId: 'a', records: 0, readToTail: true, lastRecordTimeMs: null }]);
    const lastOk = now();
    advance(1_000);
    health.failed(lakeDown, 'channel tasks', 1, ['a']);
    advance(60_000);
    health.batchSucceeded([]);
    health.notCaughtUp([]);
    expect(health.state).toBe('running');
    expect(health.lagMs()).toBe(now() - lastOk);
    health.batchSucceeded([{ channelId: 'a', records: 3, readToTail: true, lastRecordTimeMs: now() - 10 }]);
    expect(health.lagMs()).toBe(0);
  });

  it('stopped: the lag keeps growing from the last success (nothing is read any more)', () => {
    const { health, advance, now } = setup();
    health.started();
    health.batchSucceeded([{ channelId: 'a', records: 0, readToTail: true, lastRecordTimeMs: null }]);
    health.caughtUp();
    const lastOk = now();
    advance(5_000);
    health.stopped(new OtslakeError('OTSL_TUNNEL_LOST', 'tunnel gone'));
    advance(60_000);
    expect(health.snapshot()).toMatchObject({ state: 'stopped', lagMs: now() - lastOk });
  });

  it('stopped is final but for a resync: what was in flight when the table stopped does not show it running again', () => {
    const { health } = setup();
    health.started();
    health.batchSucceeded([]);
    health.stopped(new OtslakeError('OTSL_TUNNEL_LOST', 'tunnel gone'));
    // A DescribeTunnel and a batch still in flight end after the stop.
    health.notCaughtUp([]);
    health.busy();
    health.caughtUp();
    health.failed(lakeDown, 'batch');
    health.batchSucceeded([{ channelId: 'a', records: 3, readToTail: true, lastRecordTimeMs: null }]);
    expect(health.snapshot()).toMatchObject({ state: 'stopped', lastError: { code: 'OTSL_TUNNEL_LOST' } });
    expect(health.reason).toMatch(/^stopped since .*OTSL_TUNNEL_LOST/);
    // The way back: a resync (the daemon's next runner starts with a health of its own).
    health.resyncing();
    expect(health.state).toBe('resyncing');
  });

  it('resyncing is final: the in-flight batch that ends after it does not show the table running again', () => {
    const { health, lines } = setup();
    health.started();
    health.batchSucceeded([]);
    health.resyncing();
    health.batchSucceeded([{ channelId: 'a', records: 3, readToTail: true, lastRecordTimeMs: null }]);
    health.caughtUp();
    expect(health.state).toBe('resyncing');
    health.failed(lakeDown, 'batch');
    health.notCaughtUp([]);
    health.busy();
    expect(health.state).toBe('resyncing');
    expect(health.reason).toMatch(/^resyncing since /);
    expect(lines.filter((l) => l.msg === 'table state changed').map((l) => l.fields.to)).toEqual(['running', 'resyncing']);
  });

  it('waiting: says for whom and for how long; not ready', () => {
    const { health } = setup();
    health.started();
    health.batchSucceeded([]);
    health.notCaughtUp([{ clientId: 'dead-1', channels: ['c1', 'c2'], expiresInMs: 41_500 }]);
    expect(health.state).toBe('waiting');
    expect(health.reason).toBe('waiting for client dead-1 to expire, ~42 s (holds 2 channels)');
    health.notCaughtUp([]);
    expect(health.state).toBe('running');
    expect(health.reason).toBeNull();
  });

  it('jitter keeps the delay within [ceiling/2, ceiling]', () => {
    for (const r of [0, 0.5, 1]) {
      const h = new TableHealth({ table: 't', log: recordingLogger([]), backoff: { initialMs: 1_000, maxMs: 4_000 }, random: () => r });
      const d = [1, 2, 3, 4].map(() => h.failed(lakeDown, 'batch'));
      d.forEach((ms, i) => {
        const ceiling = Math.min(4_000, 1_000 * 2 ** i);
        expect(ms).toBeGreaterThanOrEqual(ceiling / 2);
        expect(ms).toBeLessThanOrEqual(ceiling);
      });
    }
  });
});

const channel = (id: string, owner: string | null, count: number): ChannelProgress => ({
  channelId: id,
  type: 'Stream',
  status: 'OPEN',
  owner,
  checkpointedChangeAtMs: null,
  count,
});
const summary = (channels: ChannelProgress[]) => ({
  stage: 'ProcessStream',
  baseChannels: { finished: 0, total: 0 },
  channels,
  unowned: 0,
  checkpointedChangeAtMs: null,
});

describe('OwnerWatch', () => {
  it('a client holding channels is waited for until it outlives a client timeout', () => {
    const watch = new OwnerWatch(60_000);
    const first = watch.observe(summary([channel('c1', 'dead', 5), channel('c2', 'us', 0)]), 'us', 0);
    expect(first.live('dead')).toBe(false);
    expect(first.waitingFor).toEqual([{ clientId: 'dead', channels: ['c1'], expiresInMs: 60_000 }]);
    expect(watch.observe(summary([channel('c1', 'dead', 5)]), 'us', 20_000).waitingFor[0]!.expiresInMs).toBe(40_000);
    // Still holding them after a whole timeout: the Tunnel accepts its heartbeats, it is alive.
    const later = watch.observe(summary([channel('c1', 'dead', 5)]), 'us', 61_000);
    expect(later.live('dead')).toBe(true);
    expect(later.waitingFor).toEqual([]);
  });

  it('a client that checkpoints is alive at once; one that left is forgotten', () => {
    const watch = new OwnerWatch(60_000);
    watch.observe(summary([channel('c1', 'peer', 5)]), 'us', 0);
    expect(watch.observe(summary([channel('c1', 'peer', 9)]), 'us', 1_000).live('peer')).toBe(true);
    watch.observe(summary([channel('c1', null, 9)]), 'us', 2_000);
    expect(watch.observe(summary([channel('c1', 'peer', 9)]), 'us', 3_000).live('peer')).toBe(false);
  });
});
