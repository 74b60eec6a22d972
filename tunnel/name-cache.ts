/**
 * Column-name interning for the PlainBuffer decoder. A batch repeats the same handful of column names in
 * every record; decoding them each time would create a new string per cell. The cache maps the name's
 * bytes (hashed while the decoder checksums them anyway) to one string, compared byte-for-byte on a hit.
 */
const MAX_ENTRIES = 4096;

interface Entry {
  bytes: Uint8Array;
  value: string;
}

export class NameCache {
  private readonly entries = new Map<number, Entry>();
  /** The cached bytes of the name the last `resolve` returned, or null when it is not cached (a collision, a full cache). */
  lastBytes: Uint8Array | null = null;

  /**
   * `hash` is FNV-1a over bytes[start, end), computed by the caller. Invalid UTF-8 decodes with U+FFFD, as
   * Java's `new String(bytes, UTF_8)` does; the CRC already vouched for the bytes.
   */
  resolve(bytes: Buffer, start: number, end: number, hash: number): string {
    const hit = this.entries.get(hash);
    if (hit !== undefined && sameBytes(hit.bytes, bytes, start, end)) {
      this.lastBytes = hit.bytes;
      return hit.value;
    }
    const value = bytes.toString('utf8', start, end);
    this.lastBytes = null;
    // On a hash collision keep the first name; the second is simply not cached.
    if (hit === undefined && this.entries.size < MAX_ENTRIES) {
      // A copy: Buffer#slice is a view, which would pin the record's buffer and change with it when it is reused.
      const entry = { bytes: Uint8Array.prototype.slice.call(bytes, start, end), value };
      this.entries.set(hash, entry);
      this.lastBytes = entry.bytes;
    }
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}

export function sameBytes(cached: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (cached.length !== end - start) return false;
  for (let i = 0; i < cached.length; i++) if (cached[i] !== bytes[start + i]) return false;
  return true;
}

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;
