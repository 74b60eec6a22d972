/**
 * tablestore-local's persistence: a snapshot of the whole store plus an append-only journal (the
 * tail) of JSON lines written since that snapshot.
 *
 * - Appends write whole lines with one write(2), so a crash leaves at worst a torn last line, which
 *   loading drops (and truncates away) instead of failing.
 * - Loading streams both files in fixed-size chunks and parses line by line: time and memory stay
 *   linear in the file size (a byte offset is carried along, never recomputed from the start).
 * - Compaction writes a new snapshot (temp file, fsync, rename) whose header names a fresh tail id,
 *   then replaces the journal by an empty one that carries that id. A journal whose id differs from
 *   the snapshot's is one the snapshot already contains (a crash between the two renames): skipped.
 * - A journal without header is the format before snapshots: replayed with the legacy reviver
 *   (journal-codec.ts), then compacted at once.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OtslakeError } from '../../common/errors.js';
import { legacyReviver } from './journal-codec.js';

const JOURNAL_FILE = 'tablestore.journal';
const SNAPSHOT_FILE = 'tablestore.snapshot';
const FORMAT = 2;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
const WRITE_CHUNK_CHARS = 1024 * 1024;
/** Default size of the tail that triggers a compaction (it also waits for the tail to outgrow the snapshot). */
export const DEFAULT_COMPACT_AFTER_BYTES = 64 * 1024 * 1024;

export type EntryFormat = 'current' | 'legacy';

export interface JournalLoad {
  /** Entries of the snapshot (current format), then of the tail, in order. */
  onEntry(entry: unknown, format: EntryFormat, from: 'snapshot' | 'journal'): void;
}

interface Header {
  format: number;
  id?: string;
  tail?: string;
}

function isHeader(value: unknown): value is Header {
  return value !== null && typeof value === 'object' && (value as Header).format === FORMAT && !('op' in value);
}

/**
 * Calls `onLine` for every complete line of `file` with its byte offset; returns the byte length of
 * the complete lines (a torn last line is not counted), or -1 when the file does not exist.
 */
function readLines(file: string, onLine: (text: string, byteOffset: number) => void): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw new OtslakeError('OTSL_EMULATOR', 'cannot read the emulator journal', { cause: err, context: { file } });
  }
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let carry: Buffer = Buffer.alloc(0);
    let consumed = 0; // bytes of complete lines handed out
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const data = carry.length === 0 ? chunk.subarray(0, n) : Buffer.concat([carry, chunk.subarray(0, n)]);
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        onLine(data.toString('utf8', start, nl), consumed);
        consumed += nl + 1 - start;
        start = nl + 1;
      }
      carry = Buffer.from(data.subarray(start)); // copy: `chunk` is reused
    }
    return consumed;
  } finally {
    fs.closeSync(fd);
  }
}

function parseLine(file: string, text: string, byteOffset: number, legacy: boolean): unknown {
  try {
    return legacy ? JSON.parse(text, legacyReviver) : JSON.parse(text);
  } catch (err) {
    throw new OtslakeError('OTSL_EMULATOR', 'the emulator journal has a corrupt line', { cause: err, context: { file, byteOffset } });
  }
}

function writeFileDurably(file: string, lines: (write: (entry: unknown) => void) => void, header: Header): number {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  let bytes = 0;
  try {
    let pending = JSON.stringify(header) + '\n';
    const flush = () => {
      bytes += fs.writeSync(fd, pending);
      pending = '';
    };
    lines((entry) => {
      pending += JSON.stringify(entry) + '\n';
      if (pending.length >= WRITE_CHUNK_CHARS) flush();
    });
    flush();
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return bytes;
}

export class Journal {
  private tailBytes: number;
  private snapshotBytes: number;

  private constructor(
    private fd: number | null,
    readonly dir: string,
    tailBytes: number,
    snapshotBytes: number,
    private readonly compactAfterBytes: number,
    /** The tail must be rewritten (legacy or stale journal) before the store is used. */
    readonly needsCompaction: boolean,
  ) {
    this.tailBytes = tailBytes;
    this.snapshotBytes = snapshotBytes;
  }

  /** Opens (creating) the store's files in `dataDir`, handing every entry to `load.onEntry`. */
  static open(dataDir: string, load: JournalLoad, compactAfterBytes = DEFAULT_COMPACT_AFTER_BYTES): Journal {
    fs.mkdirSync(dataDir, { recursive: true });
    const snapshotFile = path.join(dataDir, SNAPSHOT_FILE);
    const journalFile = path.join(dataDir, JOURNAL_FILE);
    let tailId: string | undefined;
    let first = true;
    const snapshotBytes = readLines(snapshotFile, (text, offset) => {
      const entry = parseLine(snapshotFile, text, offset, false);
      if (first) {
        first = false;
        if (!isHeader(entry) || entry.tail === undefined) {
          throw new OtslakeError('OTSL_EMULATOR', 'the emulator snapshot has no valid header', { context: { file: snapshotFile } });
        }
        tailId = entry.tail;
        return;
      }
      load.onEntry(entry, 'current', 'snapshot');
    });
    const hasSnapshot = snapshotBytes >= 0;
    // The journal's mode is decided by its first line: current (header), legacy (no header), stale (other id).
    let mode = 'unknown' as 'unknown' | 'current' | 'legacy' | 'stale';
    const goodBytes = readLines(journalFile, (text, offset) => {
      if (mode === 'unknown') {
        const entry = parseLine(journalFile, text, offset, true);
        if (isHeader(entry)) {
          mode = hasSnapshot && entry.id !== tailId ? 'stale' : 'current';
          return;
        }
        mode = hasSnapshot ? 'stale' : 'legacy';
        if (mode === 'stale') return;
        load.onEntry(entry, 'legacy', 'journal');
        return;
      }
      if (mode === 'stale') return;
      load.onEntry(parseLine(journalFile, text, offset, mode === 'legacy'), mode, 'journal');
    });
    const needsCompaction = mode === 'legacy' || mode === 'stale';
    let fd: number;
    if (goodBytes < 0 || mode === 'unknown') {
      // No journal, or only a torn header: start a fresh tail (under the snapshot's id if there is one).
      writeFileDurably(journalFile, () => undefined, { format: FORMAT, id: tailId ?? randomUUID() });
      fd = fs.openSync(journalFile, 'a');
    } else {
      fd = fs.openSync(journalFile, 'r+');
      if (goodBytes < fs.fstatSync(fd).size) fs.ftruncateSync(fd, goodBytes);
      fs.closeSync(fd);
      fd = fs.openSync(journalFile, 'a');
    }
    return new Journal(fd, dataDir, Math.max(0, goodBytes), Math.max(0, snapshotBytes), compactAfterBytes, needsCompaction);
  }

  append(entries: unknown[]): void {
    if (this.fd === null || entries.length === 0) return;
    let text = '';
    for (const entry of entries) text += JSON.stringify(entry) + '\n';
    this.tailBytes += fs.writeSync(this.fd, text);
  }

  /** The tail has outgrown both the threshold and the snapshot: compacting now keeps total work linear. */
  shouldCompact(): boolean {
    return this.tailBytes >= this.compactAfterBytes && this.tailBytes >= this.snapshotBytes;
  }

  /** Writes a snapshot of everything `entries` produces and starts an empty tail. */
  compact(entries: (write: (entry: unknown) => void) => void): void {
    if (this.fd === null) return;
    const id = randomUUID();
    this.snapshotBytes = writeFileDurably(path.join(this.dir, SNAPSHOT_FILE), entries, { format: FORMAT, tail: id });
    fs.closeSync(this.fd);
    this.fd = null;
    const journalFile = path.join(this.dir, JOURNAL_FILE);
    this.tailBytes = writeFileDurably(journalFile, () => undefined, { format: FORMAT, id });
    this.fd = fs.openSync(journalFile, 'a');
  }

  sizes(): { snapshotBytes: number; tailBytes: number } {
    return { snapshotBytes: this.snapshotBytes, tailBytes: this.tailBytes };
  }

  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
