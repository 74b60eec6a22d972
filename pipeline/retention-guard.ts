/**
 * How close a table is to losing changes to the Tunnel's log retention (docs/operations.md §Table lifecycle).
 *
 * Tablestore keeps a table's change log for its stream's `expiration_time` (hours, DescribeTable; 7 days
 * unless the table says otherwise). A change still unread when it passes that age is trimmed, and the tunnel
 * that had to deliver it expires (`OTSTunnelExpired`): the table then stops on OTSL_TUNNEL_LOST and only a
 * resync brings it back. The guard compares the table's lag with that window:
 *
 *   lag      = the age of the oldest change not yet in the lake (TableHealth), or, while a BaseAndStream
 *              tunnel (by DescribeTunnel's type: a resync's tunnel is one whatever the config says) is still in its full phase, the age of the tunnel: its stream starts at its creation and
 *              nothing of it is read before the snapshot ends (the health's lag then dates snapshot rows by
 *              their cells, which can be years old and are never trimmed); 0 for a BaseData tunnel (no stream)
 *   headroom = window − lag (never below 0), fraction = lag / window
 *   level    = ok < warningRatio ≤ warning < criticalRatio ≤ critical (left downwards a tenth below its threshold)
 *
 * A change of level is logged once (warn on warning, error on critical, info when back to ok), whether
 * the lag is read by a batch, a scrape or /status: the guard owns the level.
 */
import type { Logger } from '../common/log.js';
import { tunnelTypeOf } from './tunnel-progress.js';

export type RetentionLevel = 'ok' | 'warning' | 'critical';

export interface RetentionStatus {
  /** The table's stream retention, in seconds. */
  windowSeconds: number;
  /** Where the window comes from: the table's stream (DescribeTable) or `source.streamRetentionMs`. */
  windowSource: 'table' | 'config';
  lagSeconds: number;
  /** How long the oldest pending change can still wait before it is trimmed; 0 once past the window. */
  headroomSeconds: number;
  /** lag / window: 0 caught up, 1 at the edge of the retention. */
  fraction: number;
  level: RetentionLevel;
}

export interface RetentionGuardOptions {
  table: string;
  log: Logger;
  /** The window when DescribeTable does not say (source.streamRetentionMs). */
  fallbackWindowMs: number;
  /** Fractions of the window at which the warning and the critical line are logged. */
  warningRatio: number;
  criticalRatio: number;
  /** tables[].tunnel.type: a BaseData tunnel reads no stream, BaseAndStream counts its full phase. */
  tunnelType: string;
}

/** The tunnel's stage and creation time, as the last DescribeTunnel said. */
export interface TunnelPhase {
  stage: string;
  createdAtMs?: number | null;
  /** DescribeTunnel's tunnel_type; when given it overrides tables[].tunnel.type (a resync's tunnel is BaseAndStream). */
  tunnelType?: string;
}

const HOUR_MS = 3_600_000;
/** A level is left downwards only below this share of its threshold. */
const HYSTERESIS = 0.9;

/**
 * The lag that counts against the retention (module comment): `phase` is the last DescribeTunnel, null while
 * none was made; a full phase whose tunnel age is unknown counts as 0 (nothing older is known to wait).
 */
export function retentionLagMs(healthLagMs: number, configuredType: string, phase: TunnelPhase | null, nowMs: number): number {
  const tunnelType = tunnelTypeOf(phase, configuredType);
  if (tunnelType === 'BaseData') return 0;
  if (tunnelType !== 'BaseAndStream' || phase?.stage === 'ProcessStream') return healthLagMs;
  if (phase === null || phase.createdAtMs === undefined || phase.createdAtMs === null) return 0;
  return Math.max(0, nowMs - phase.createdAtMs);
}

/** The retention window: the table's stream `expiration_time` (hours) when it reports a positive one, else the config's. */
export function retentionWindowOf(expirationHours: number | null | undefined, fallbackWindowMs: number): { ms: number; source: 'table' | 'config' } {
  return typeof expirationHours === 'number' && expirationHours > 0
    ? { ms: expirationHours * HOUR_MS, source: 'table' }
    : { ms: fallbackWindowMs, source: 'config' };
}

export class RetentionGuard {
  private expirationHours: number | null | undefined = null;
  private phase: TunnelPhase | null = null;
  private levelValue: RetentionLevel = 'ok';

  constructor(private readonly options: RetentionGuardOptions) {}

  /** The guard of `table` with the config's fallback window and thresholds (source.streamRetentionMs, source.retention*Percent). */
  static fromConfig(
    table: string,
    log: Logger,
    source: { streamRetentionMs: number; retentionWarningPercent: number; retentionCriticalPercent: number },
    tunnelType: string,
  ): RetentionGuard {
    return new RetentionGuard({
      table,
      log,
      tunnelType,
      fallbackWindowMs: source.streamRetentionMs,
      warningRatio: source.retentionWarningPercent / 100,
      criticalRatio: source.retentionCriticalPercent / 100,
    });
  }

  /** DescribeTable's `stream_details.expiration_time` (hours); absent or not positive keeps the config's window. */
  tableWindow(expirationHours: number | null | undefined): void {
    this.expirationHours = expirationHours;
  }

  /** What the last DescribeTunnel said of the tunnel's stage and age. */
  tunnelPhase(phase: TunnelPhase): void {
    this.phase = { stage: phase.stage, createdAtMs: phase.createdAtMs ?? null, ...(phase.tunnelType ? { tunnelType: phase.tunnelType } : {}) };
  }

  get level(): RetentionLevel {
    return this.levelValue;
  }

  /** The table's standing against its retention, its health's lag being `healthLagMs`; logs a change of level. */
  assess(healthLagMs: number, nowMs: number): RetentionStatus {
    const lagMs = retentionLagMs(healthLagMs, this.options.tunnelType, this.phase, nowMs);
    const { ms: windowMs, source: windowSource } = retentionWindowOf(this.expirationHours, this.options.fallbackWindowMs);
    const fraction = windowMs > 0 ? lagMs / windowMs : 0;
    const level = this.levelAt(fraction);
    const status: RetentionStatus = {
      windowSeconds: Math.round(windowMs / 1000),
      windowSource,
      lagSeconds: Math.round(lagMs / 1000),
      headroomSeconds: Math.round(Math.max(0, windowMs - lagMs) / 1000),
      fraction: Number(fraction.toFixed(4)),
      level,
    };
    if (level !== this.levelValue) this.changed(level, status);
    return status;
  }

  /**
   * The level at `fraction`. Rising takes the threshold; falling back takes a tenth below it, so a lag that
   * hovers at a threshold logs one line, not one per batch.
   */
  private levelAt(fraction: number): RetentionLevel {
    const { warningRatio, criticalRatio } = this.options;
    const raw: RetentionLevel = fraction >= criticalRatio ? 'critical' : fraction >= warningRatio ? 'warning' : 'ok';
    if (this.levelValue === 'critical' && fraction >= criticalRatio * HYSTERESIS) return 'critical';
    if (this.levelValue !== 'ok' && fraction >= warningRatio * HYSTERESIS) return raw === 'critical' ? 'critical' : 'warning';
    return raw;
  }

  private changed(level: RetentionLevel, status: RetentionStatus): void {
    const previous = this.levelValue;
    this.levelValue = level;
    const { level: _level, ...figures } = status;
    const fields = { table: this.options.table, from: previous, to: level, ...figures };
    if (level === 'ok') {
      this.options.log.info('table lag back within the tunnel retention', fields);
      return;
    }
    const thresholdRatio = level === 'critical' ? this.options.criticalRatio : this.options.warningRatio;
    this.options.log[level === 'critical' ? 'error' : 'warn']('table lag nears the tunnel retention', {
      ...fields,
      thresholdRatio,
      consequence: 'changes older than the retention are trimmed; the tunnel then expires and the table stops (OTSL_TUNNEL_LOST)',
    });
  }
}
