/**
 * RetentionGuard: the table's lag against the Tunnel's log retention (window from DescribeTable, else the
 * config), headroom and fraction, one log line per change of level (warn, error, info on recovery), and
 * the full phase of a BaseAndStream tunnel counted from the tunnel's creation.
 */
import { describe, expect, it } from 'vitest';
import { RetentionGuard, retentionLagMs, retentionWindowOf } from '../../../pipeline/retention-guard.js';
import { recordingLogger, type LoggedLine } from '../../helpers/recording-logger.js';

type Line = LoggedLine;

const HOUR = 3_600_000;
const NOW = 1_800_000_000_000;
const source = { streamRetentionMs: 7 * 24 * HOUR, retentionWarningPercent: 50, retentionCriticalPercent: 80 };

describe('RetentionGuard', () => {
  it('uses the stream expiration DescribeTable reports, else the configured window', () => {
    const guard = RetentionGuard.fromConfig('t', recordingLogger([]), source, 'Stream');
    expect(guard.assess(0, NOW)).toEqual({
      windowSeconds: 7 * 86_400,
      windowSource: 'config',
      lagSeconds: 0,
      headroomSeconds: 7 * 86_400,
      fraction: 0,
      level: 'ok',
    });
    guard.tableWindow(24);
    expect(guard.assess(6 * HOUR, NOW)).toEqual({
      windowSeconds: 86_400,
      windowSource: 'table',
      lagSeconds: 21_600,
      headroomSeconds: 64_800,
      fraction: 0.25,
      level: 'ok',
    });
    guard.tableWindow(null);
    expect(guard.assess(0, NOW).windowSource).toBe('config');
  });

  it('retentionWindowOf (the guard and `otslake status` alike): a positive expiration_time wins, none or 0 falls back to the config', () => {
    expect(retentionWindowOf(24, 7 * 24 * HOUR)).toEqual({ ms: 24 * HOUR, source: 'table' });
    expect(retentionWindowOf(null, 7 * 24 * HOUR)).toEqual({ ms: 7 * 24 * HOUR, source: 'config' });
    expect(retentionWindowOf(0, 7 * 24 * HOUR)).toEqual({ ms: 7 * 24 * HOUR, source: 'config' });
  });

  it('logs once when the lag passes the warning and the critical threshold, and once when it is back', () => {
    const lines: Line[] = [];
    const guard = RetentionGuard.fromConfig('orders', recordingLogger(lines), source, 'Stream');
    guard.tableWindow(24);
    expect(guard.assess(11 * HOUR, NOW).level).toBe('ok');
    expect(lines).toEqual([]);
    expect(guard.assess(13 * HOUR, NOW).level).toBe('warning');
    expect(guard.assess(14 * HOUR, NOW).level).toBe('warning');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'table lag nears the tunnel retention',
      fields: { table: 'orders', from: 'ok', to: 'warning', thresholdRatio: 0.5, windowSeconds: 86_400, lagSeconds: 13 * 3600 },
    });
    expect(guard.assess(20 * HOUR, NOW).level).toBe('critical');
    expect(lines[1]).toMatchObject({
      level: 'error',
      msg: 'table lag nears the tunnel retention',
      fields: { to: 'critical', from: 'warning', thresholdRatio: 0.8 },
    });
    // Past the window: no headroom left.
    expect(guard.assess(30 * HOUR, NOW)).toMatchObject({ headroomSeconds: 0, fraction: 1.25, level: 'critical' });
    expect(lines).toHaveLength(2);
    expect(guard.assess(0, NOW)).toMatchObject({ level: 'ok', headroomSeconds: 86_400 });
    expect(lines[2]).toMatchObject({ level: 'info', msg: 'table lag back within the tunnel retention', fields: { from: 'critical', to: 'ok' } });
  });

  it('a lag hovering at a threshold logs one line: falling back takes a tenth below the threshold', () => {
    const lines: Line[] = [];
    const guard = RetentionGuard.fromConfig('orders', recordingLogger(lines), source, 'Stream');
    guard.tableWindow(100); // 100 h: a fraction is lag in hours / 100
    const levels = [50, 49, 50, 46, 45.5, 80, 79, 72.5, 71, 44, 0].map((h) => guard.assess(h * HOUR, NOW).level);
    expect(levels).toEqual(['warning', 'warning', 'warning', 'warning', 'warning', 'critical', 'critical', 'critical', 'warning', 'ok', 'ok']);
    expect(lines.map((l) => `${l.fields.from}->${l.fields.to}`)).toEqual(['ok->warning', 'warning->critical', 'critical->warning', 'warning->ok']);
  });

  it("counts a BaseAndStream full phase from the tunnel creation (not the snapshot rows' cell times), the stream by the health lag, and a BaseData tunnel not at all", () => {
    const created = NOW - 30 * HOUR;
    const yearsOld = 3 * 365 * 24 * HOUR; // the health's lag while snapshot rows of old cells are pending
    expect(retentionLagMs(yearsOld, 'BaseAndStream', { stage: 'ProcessBaseData', createdAtMs: created }, NOW)).toBe(30 * HOUR);
    expect(retentionLagMs(5, 'BaseAndStream', { stage: 'ProcessStream', createdAtMs: created }, NOW)).toBe(5);
    expect(retentionLagMs(yearsOld, 'BaseAndStream', { stage: 'ProcessBaseData', createdAtMs: null }, NOW)).toBe(0);
    expect(retentionLagMs(yearsOld, 'BaseAndStream', null, NOW)).toBe(0);
    expect(retentionLagMs(5, 'Stream', null, NOW)).toBe(5);
    expect(retentionLagMs(yearsOld, 'BaseData', { stage: 'ProcessBaseData', createdAtMs: created }, NOW)).toBe(0);

    const lines: Line[] = [];
    const guard = RetentionGuard.fromConfig('orders', recordingLogger(lines), source, 'BaseAndStream');
    guard.tableWindow(24);
    guard.tunnelPhase({ stage: 'ProcessBaseData', createdAtMs: created });
    expect(guard.assess(yearsOld, NOW)).toMatchObject({ lagSeconds: 30 * 3600, headroomSeconds: 0, level: 'critical' });
    guard.tunnelPhase({ stage: 'ProcessStream', createdAtMs: created });
    expect(guard.assess(0, NOW)).toMatchObject({ lagSeconds: 0, headroomSeconds: 86_400, level: 'ok' });
  });

  it("takes the tunnel's type from DescribeTunnel over the config's: a resynced Stream table reads a BaseAndStream tunnel", () => {
    const created = NOW - 2 * HOUR;
    const yearsOld = 3 * 365 * 24 * HOUR;
    const resyncTunnel = { stage: 'ProcessBaseData', createdAtMs: created, tunnelType: 'BaseAndStream' };
    expect(retentionLagMs(yearsOld, 'Stream', resyncTunnel, NOW)).toBe(2 * HOUR);
    const guard = RetentionGuard.fromConfig('orders', recordingLogger([]), source, 'Stream');
    guard.tunnelPhase(resyncTunnel);
    expect(guard.assess(yearsOld, NOW)).toMatchObject({ lagSeconds: 2 * 3600, level: 'ok' });
  });
});
