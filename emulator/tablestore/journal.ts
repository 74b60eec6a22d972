/**
 * tablestore-local's persistence: one append-only journal of JSON lines, replayed at start.
 * Each write appends whole lines with one write(2), so a crash leaves at worst a torn last line,
 * which replay drops (and truncates away) instead of failing. bigint and bytes are tagged objects.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OtslakeError } from '../../common/errors.js';

const FILE_NAME = 'tablestore.journal';

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $big: value.toString() };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.$big === 'string' && Object.keys(v).length === 1) return BigInt(v.$big);
    if (typeof v.$bytes === 'string' && Object.keys(v).length === 1) return Uint8Array.from(Buffer.from(v.$bytes, 'base64'));
  }
  return value;
}

export function serializeEntry(entry: unknown): string {
  return JSON.stringify(entry, replacer);
}

export class Journal {
  private constructor(
    private fd: number | null,
    readonly file: string,
  ) {}

  /** Opens (creating) the journal in `dataDir` and returns it with the entries to replay. */
  static open<T>(dataDir: string): { journal: Journal; entries: T[] } {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, FILE_NAME);
    const entries: T[] = [];
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new OtslakeError('OTSL_EMULATOR', 'cannot read the emulator journal', { cause: err, context: { file } });
      }
    }
    let goodBytes = 0;
    let lineStart = 0;
    while (lineStart < text.length) {
      const nl = text.indexOf('\n', lineStart);
      if (nl === -1) break; // torn last line: never acknowledged, drop it
      const line = text.slice(lineStart, nl);
      try {
        entries.push(JSON.parse(line, reviver) as T);
      } catch (err) {
        throw new OtslakeError('OTSL_EMULATOR', 'the emulator journal has a corrupt line', {
          cause: err,
          context: { file, byteOffset: Buffer.byteLength(text.slice(0, lineStart)) },
        });
      }
      lineStart = nl + 1;
      goodBytes = Buffer.byteLength(text.slice(0, lineStart));
    }
    const fd = fs.openSync(file, 'a+');
    if (goodBytes < fs.fstatSync(fd).size) fs.ftruncateSync(fd, goodBytes);
    return { journal: new Journal(fd, file), entries };
  }

  append(entries: unknown[]): void {
    if (this.fd === null || entries.length === 0) return;
    let text = '';
    for (const entry of entries) text += serializeEntry(entry) + '\n';
    fs.writeSync(this.fd, text);
  }

  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
