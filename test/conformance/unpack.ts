/**
 * Unpacks the shared conformance archives into a fresh temp dir (the shared copies are read-only and
 * must not be modified). Suites call this once in beforeAll and remove the dir in afterAll.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const TESTDATA = process.env.OTSLAKE_DELTA_TESTDATA ?? path.resolve(HERE, '../../../shared/testdata/delta');
export const KERNEL_DATA = path.join(TESTDATA, 'kernel-data');
export const KERNEL_GOLDEN = path.join(TESTDATA, 'kernel-golden');
export const DAT_TARBALL = path.join(TESTDATA, 'dat', 'deltalake-dat-v0.0.3.tar.gz');

/** Why the zstd archives cannot be unpacked here, or null when they can. */
export function zstdSkipReason(): string | null {
  if (!existsSync(TESTDATA)) return `conformance data not found at ${TESTDATA}`;
  const probe = spawnSync('zstd', ['--version'], { stdio: 'ignore' });
  return probe.status === 0 ? null : 'the zstd binary is not installed (apt-get install zstd)';
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
