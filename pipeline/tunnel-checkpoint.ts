/**
 * The "Commit" step of the cycle (docs/tunnel-protocol.md §Micro-batch cycle): positions already in force in the lake are reported
 * to the Tunnel server. Only ever called after the Delta commit that made them effective.
 *
 *   end token          → Checkpoint(token)                     progress shows in DescribeTunnel
 *   finished channel   → Checkpoint("finished") + TERMINATED    its child channels may start now
 *
 * The lake is the source of truth, so a failed checkpoint is logged and reported back, never
 * thrown: the caller tries again at its next batch (a finished parent must not stay unreported,
 * or its children never start).
 */
import type { Logger } from '../common/log.js';
import type { TunnelSession } from '../tunnel/tunnel-session.js';

export interface ChannelPosition {
  readonly channelId: string;
  readonly token: string;
  readonly finished: boolean;
}

export interface CheckpointReport {
  readonly checkpointed: ChannelPosition[];
  readonly failed: ChannelPosition[];
}

export async function checkpointTunnel(
  session: TunnelSession,
  positions: readonly ChannelPosition[],
  log: Logger,
  signal?: AbortSignal,
): Promise<CheckpointReport> {
  const checkpointed: ChannelPosition[] = [];
  const failed: ChannelPosition[] = [];
  await Promise.all(
    positions.map(async (p) => {
      try {
        if (p.finished) await session.markFinished(p.channelId, signal);
        else await session.checkpointer(p.channelId).checkpoint(p.token, signal);
        checkpointed.push(p);
      } catch (err) {
        log.warn('tunnel checkpoint failed; retried at the next batch', { channelId: p.channelId, finished: p.finished, error: err });
        failed.push(p);
      }
    }),
  );
  if (checkpointed.some((p) => p.finished)) {
    log.info('channels finished', { channelIds: checkpointed.filter((p) => p.finished).map((p) => p.channelId) });
  }
  return { checkpointed, failed };
}
