/**
 * Test hook: corrupts records on their way out of ReadRecords, so that clients can be tested against
 * bad bytes from a real server. The stored change log is untouched; only the answer is altered, so a
 * retried read of the same token returns the intact records.
 */
import { OtslakeError } from '../../common/errors.js';
import type { ReadRecordsResponse } from '../../tunnel/proto.js';

export class RecordTamper {
  /** channelId → records still to corrupt. */
  private readonly pending = new Map<string, number>();

  /** The next `count` records returned for `channelId` get their row checksum (last byte) flipped. */
  corruptNext(channelId: string, count: number): void {
    if (typeof channelId !== 'string' || channelId === '') throw new OtslakeError('OTSL_EMULATOR', 'corrupt-records needs a channelId');
    if (!(Number.isInteger(count) && count > 0))
      throw new OtslakeError('OTSL_EMULATOR', `corrupt-records count must be a positive integer, got ${String(count)}`);
    this.pending.set(channelId, (this.pending.get(channelId) ?? 0) + count);
  }

  /** Records still to corrupt per channel. */
  list(): Record<string, number> {
    return Object.fromEntries(this.pending);
  }

  apply(channelId: string, response: ReadRecordsResponse): ReadRecordsResponse {
    const left = this.pending.get(channelId);
    if (left === undefined || response.records.length === 0) return response;
    const n = Math.min(left, response.records.length);
    const records = response.records.map((r, i) => {
      if (i >= n) return r;
      const bytes = Uint8Array.from(r.record);
      bytes[bytes.length - 1]! ^= 0xff;
      return { ...r, record: bytes };
    });
    if (left - n > 0) this.pending.set(channelId, left - n);
    else this.pending.delete(channelId);
    return { ...response, records };
  }
}
