/**
 * TableResyncs: the last resync of each table through the daemon, as /status reports it and `otslake resync`
 * follows it — including a failed one, which leaves the table running as before and would otherwise show only in the log.
 */
import { describe, expect, it } from 'vitest';
import { OtslakeError } from '../../../common/errors.js';
import { TableResyncs } from '../../../daemon/table-resyncs.js';

describe('TableResyncs', () => {
  it('resyncing, then done with the new tunnel and the RESYNC commit, or failed with the error; another table has none', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const resyncs = new TableResyncs(() => now);
    resyncs.begin('orders');
    expect(resyncs.of('orders')).toEqual({
      state: 'resyncing',
      startedAt: '2030-01-01T00:00:00.000Z',
      endedAt: null,
      tunnelId: null,
      version: null,
      error: null,
    });
    now += 5_000;
    resyncs.done('orders', { previousTunnelId: 'old', tunnelId: 'new', tunnelName: 'n', version: 7, deletedPreviousTunnel: true });
    expect(resyncs.of('orders')).toMatchObject({ state: 'done', endedAt: '2030-01-01T00:00:05.000Z', tunnelId: 'new', version: 7, error: null });

    resyncs.begin('orders');
    expect(resyncs.of('orders')).toMatchObject({ state: 'resyncing', endedAt: null, tunnelId: null, version: null });
    now += 1_000;
    resyncs.failed('orders', new OtslakeError('OTSL_TUNNEL_HTTP', 'endpoint unreachable', { retriable: true }));
    expect(resyncs.of('orders')).toMatchObject({
      state: 'failed',
      endedAt: '2030-01-01T00:00:06.000Z',
      tunnelId: null,
      error: { code: 'OTSL_TUNNEL_HTTP', message: 'endpoint unreachable' },
    });
    expect(resyncs.of('items')).toBeNull();
  });
});
