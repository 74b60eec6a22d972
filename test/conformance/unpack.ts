/**
 * Unpacks the shared conformance archives into a fresh temp dir (the shared copies are read-only and
 * must not be modified). Suites call this once in beforeAll and remove the dir in afterAll.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DAT_TARBALL, KERNEL_DATA, KERNEL_GOLDEN, optionalData, TESTDATA } from '../helpers/conformance-data.js';

export { DAT_TARBALL, KERNEL_DATA, KERNEL_GOLDEN, TESTDATA };

/** Why the zstd archives cannot be unpacked here (no data: warned; no zstd binary), or false when they can. */
export function zstdSkipReason(suite: string): string | false {
  const noData = optionalData(suite, [KERNEL_DATA, KERNEL_GOLDEN]);
  if (noData) return noData;
  const probe = spawnSync('zstd', ['--version'], { stdio: 'ignore' });
  if (probe.status === 0) return false;
  const reason = `${suite}: the zstd binary is not installed (apt-get install zstd)`;
  console.warn(`SKIPPED ${reason}`);
  return reason;
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Extracts the DAT tarball; returns the `out/reader_tests/generated` folder. */
export function unpackDat(into: string): string {
  execFileSync('tar', ['-xzf', DAT_TARBALL, '-C', into]);
  return path.join(into, 'out', 'reader_tests', 'generated');
}

/** Extracts `<name>.tar.zst` from `folder` into `into`; returns `into/<name>`. */
export function unpackZst(folder: string, name: string, into: string): string {
  execFileSync('tar', ['--zstd', '-xf', path.join(folder, `${name}.tar.zst`), '-C', into], { stdio: ['ignore', 'ignore', 'ignore'] });
  return path.join(into, name);
}
