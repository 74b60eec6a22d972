/**
 * The status page's data: the activity ring keeps a fixed window of 5-second buckets, the last error
 * keeps the time the failure started and when it cleared, and the live JSON carries no credential.
 */
import { describe, expect, it } from 'vitest';
import type { BatchReport } from '../../../pipeline/batch-cycle.js';
import { Metrics } from '../../../daemon/metrics.js';
import { liveStatus, secretsOf, type RunnerStatus } from '../../../daemon/status-page/live-status.js';
import { BUCKET_MS, DaemonActivity, TableActivity, WINDOW_MS } from '../../../daemon/status-page/table-activity.js';
import { testConfig } from '../../helpers/test-config.js';

const T0 = 1_700_000_000_000;

function report(overrides: Partial<BatchReport> = {}): BatchReport {
  return {
    batchId: 'b',
    outcome: 'committed',
    version: 1,
    channels: 2,
    records: 10,
    rows: 10,
    failedTasks: 0,
    finishedChannels: [],
    durationMs: 50,
    atTail: false,
    quiet: false,
    behind: false,
    commitAttempts: 1,
    ...overrides,
  };
}

describe('TableActivity', () => {
  it('sums batches into 5 s buckets over a fixed 15 min window, oldest first', () => {
    const a = new TableActivity();
    a.batch(report({ rows: 10 }), 1.5, T0);
    a.batch(report({ rows: 5, version: 2 }), 0.5, T0 + 1_000);
    a.batch(report({ outcome: 'empty', rows: 0, records: 0 }), null, T0 + BUCKET_MS);
    const series = a.series(T0 + BUCKET_MS);
    expect(series).toHaveLength(WINDOW_MS / BUCKET_MS);
    expect(series.at(-1)).toMatchObject({ rows: 0, batches: 1, lagSeconds: null });
    expect(series.at(-2)).toMatchObject({ rows: 15, records: 20, batches: 2, lagSeconds: 1.5 });
    expect(a.commits.map((c) => c.version)).toEqual([2, 1]);
    // A bucket a whole window old is gone, not added to the one that reuses its slot.
    a.batch(report({ rows: 7 }), null, T0 + WINDOW_MS);
    const later = a.series(T0 + WINDOW_MS);
    expect(later.at(-1)).toMatchObject({ rows: 7, batches: 1 });
    expect(later.reduce((n, b) => n + b.rows, 0)).toBe(7);
  });

  it('keeps when a failure started, the newest error, and when it cleared', () => {
    const a = new TableActivity();
    const failing = report({ outcome: 'empty', rows: 0, failedTasks: 1, taskErrors: [{ channelId: 'c1', code: 'OTSL_LAKE_IO', message: 'disk full' }] });
    a.batch(failing, null, T0);
    a.batchFailed('OTSL_TUNNEL_HTTP', 'connection refused', T0 + 1_000);
    expect(a.lastError).toMatchObject({ atMs: T0, code: 'OTSL_TUNNEL_HTTP', failedBatches: 2, clearedAtMs: null });
    // A fenced batch neither fails nor clears.
    a.batch(report({ outcome: 'fenced', rows: 0 }), null, T0 + 2_000);
    expect(a.lastError).toMatchObject({ atMs: T0, clearedAtMs: null });
    a.batch(report({ outcome: 'empty', rows: 0, quiet: true }), null, T0 + 3_000);
    expect(a.lastError).toMatchObject({ code: 'OTSL_TUNNEL_HTTP', atMs: T0, clearedAtMs: T0 + 3_000 });
  });
});

describe('liveStatus', () => {
  it('carries no configured credential, even inside an error message', () => {
    const config = testConfig({
      source: {
        endpoint: 'http://127.0.0.1:1',
        instance: 'i',
        accessKeyId: 'LTAI-id-visible',
        accessKeySecret: 'very-secret-value',
        securityToken: 'sts-token-value',
      },
      lake: { uri: 'oss://bucket/lake', oss: { endpoint: 'http://127.0.0.1:2', accessKeyId: 'oss-key-id', accessKeySecret: 'oss-secret-value' } },
      tables: [{ table: 'orders', tunnel: { name: 't' }, path: 'orders' }],
    });
    const secrets = secretsOf(config);
    expect(secrets).toEqual(expect.arrayContaining(['LTAI-id-visible', 'very-secret-value', 'sts-token-value', 'oss-key-id', 'oss-secret-value']));
    const metrics = new Metrics();
    const activity = new DaemonActivity(metrics);
    activity.table('orders').batchFailed('OTSL_LAKE_IO', 'PutObject denied for oss-key-id (signature with oss-secret-value)', T0);
    const runner: RunnerStatus = {
      table: 'orders',
      // The table's health says failing (the page takes state, since, lag and last success from it).
      state: 'failing',
      since: new Date(T0).toISOString(),
      lastSuccessfulBatchAt: null,
      lagMs: 2_000,
      failures: 1,
      lastError: { code: 'OTSL_LAKE_IO', message: 'PutObject denied for oss-key-id (signature with oss-secret-value)', at: new Date(T0).toISOString() },
      retention: { windowSeconds: 604_800, windowSource: 'config', lagSeconds: 2, headroomSeconds: 604_798, fraction: 0, level: 'ok' },
      mode: 'changelog',
      stage: 'ProcessStream',
      tunnelId: 'tid',
      clientId: 'me',
      lakeVersion: 3,
      channels: [{ channelId: 'c1', committedSeq: 3, finished: false, checkpointed: true }],
      tunnelChannels: [
        { channelId: 'c1', type: 'Stream', status: 'OPEN', owner: 'me', checkpointedChangeAtMs: null, count: null },
        { channelId: 'c2', type: 'Stream', status: 'OPEN', owner: 'other', checkpointedChangeAtMs: null, count: null },
      ],
      maintenance: null,
      typeConflicts: [],
    };
    const live = liveStatus({
      state: 'running',
      readiness: { ready: true },
      startedAtMs: T0,
      workers: { capacity: 2, running: 0, waiting: 0 },
      tables: [runner],
      activity,
      metrics,
      secrets,
      nowMs: T0 + 1_000,
    }) as {
      tables: { state: string; failingSinceMs: number; lagSeconds: number; lastError: { message: string }; channels: { channelId: string; owner: string }[] }[];
    };
    const text = JSON.stringify(live);
    for (const s of secrets) expect(text).not.toContain(s);
    expect(live.tables[0]!.lastError.message).toBe('PutObject denied for [Redacted] (signature with [Redacted])');
    expect(live.tables[0]).toMatchObject({ state: 'failing', failingSinceMs: T0, lagSeconds: 2 });
    expect(live.tables[0]!.channels.map((c) => [c.channelId, c.owner])).toEqual([
      ['c1', 'this daemon'],
      ['c2', 'other'],
    ]);
  });
});
