/**
 * A CLI command run in this process with its stdout and stderr captured (and kept off the test's output):
 * `await captureOutput(() => statusCommand.run(['--config', path, '--json']))`.
 */
import { vi } from 'vitest';

export interface CapturedRun {
  code: number;
  out: string;
  err: string;
}

export async function captureOutput(run: () => Promise<number>): Promise<CapturedRun> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  try {
    const code = await run();
    return { code, out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
