/**
 * Per-channel Tunnel checkpoints with the SDKs' sequence-number rules (docs/tunnel-protocol.md §Checkpoints and sequence numbers):
 *   - after GetCheckpoint the next sequence number is `server + 1`;
 *   - each accepted checkpoint advances it by one;
 *   - on OTSSequenceNumberNotMatch, re-read GetCheckpoint, take `server + 1`, and try once more. The SDKs
 *     leave the retry to the next periodic checkpoint; otslake checkpoints only after a lake commit, so there
 *     is no "next time" to wait for and one immediate retry is the equivalent.
 *
 * A checkpoint is progress reporting, not the source of truth (the offset log in the lake is), so a caller
 * may log a failure here and carry on.
 */
import { hasCode } from '../common/errors.js';
import type { TunnelClient } from './tunnel-client.js';

export interface ChannelIds {
  tunnelId: string;
  clientId: string;
  channelId: string;
}

export type CheckpointOutcome =
  { kind: 'checkpointed'; sequenceNumber: bigint } | { kind: 'checkpointed-after-resync'; sequenceNumber: bigint; serverSequenceNumber: bigint };

export class Checkpointer {
  private nextSeq: bigint;

  /** `serverSequenceNumber` is what GetCheckpoint returned for this channel. */
  constructor(
    private readonly client: TunnelClient,
    readonly ids: ChannelIds,
    serverSequenceNumber: bigint,
  ) {
    this.nextSeq = serverSequenceNumber + 1n;
  }

  /** The sequence number the next checkpoint will carry. */
  get sequenceNumber(): bigint {
    return this.nextSeq;
  }

  /** Records `token` (a next_token, or "finished"). Throws the server's error if the resync retry fails too. */
  async checkpoint(token: string, signal?: AbortSignal): Promise<CheckpointOutcome> {
    try {
      await this.send(token, signal);
      return { kind: 'checkpointed', sequenceNumber: this.nextSeq - 1n };
    } catch (err) {
      if (!hasCode(err, 'OTSL_TUNNEL_SEQUENCE_MISMATCH')) throw err;
    }
    const current = await this.client.getCheckpoint({ tunnel_id: this.ids.tunnelId, client_id: this.ids.clientId, channel_id: this.ids.channelId }, { signal });
    this.nextSeq = current.sequence_number + 1n;
    await this.send(token, signal);
    return { kind: 'checkpointed-after-resync', sequenceNumber: this.nextSeq - 1n, serverSequenceNumber: current.sequence_number };
  }

  private async send(token: string, signal?: AbortSignal): Promise<void> {
    await this.client.checkpoint(
      { tunnel_id: this.ids.tunnelId, client_id: this.ids.clientId, channel_id: this.ids.channelId, checkpoint: token, sequence_number: this.nextSeq },
      { signal },
    );
    this.nextSeq += 1n;
  }
}
