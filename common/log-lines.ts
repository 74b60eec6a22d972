/**
 * Reading the daemon's JSON log lines back from a child process's stderr (tests and benches that
 * run `otslake` as a process): one record per complete line, a non-JSON line kept as
 * `{msg: 'non-json', line}` so that nothing the process printed is lost.
 */
import type { Readable } from 'node:stream';

export function onLogLines(stream: Readable, onRecord: (record: Record<string, unknown>) => void): void {
  let pending = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        record = { msg: 'non-json', line };
      }
      onRecord(record);
    }
  });
}
