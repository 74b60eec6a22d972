/**
 * The optional external conformance data (Delta kernel tables, golden tables, the DAT tarball). It is
 * not part of the repository: by default it is looked for in `../shared/testdata/delta` beside the
 * checkout, or wherever OTSLAKE_DELTA_TESTDATA points. A fresh clone has none of it, and its suites
 * must still pass: `optionalData()` tells a suite to skip — loudly, with a warning naming the suite
 * and the path — and never fails for the data's absence. CI sets OTSLAKE_REQUIRE_CONFORMANCE=1 where
 * the data is present, so that a suite that would silently skip there fails instead.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function testdataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OTSLAKE_DELTA_TESTDATA ?? path.resolve(ROOT, '../shared/testdata/delta');
}

export const TESTDATA = testdataDir();
export const KERNEL_DATA = path.join(TESTDATA, 'kernel-data');
export const KERNEL_GOLDEN = path.join(TESTDATA, 'kernel-golden');
export const DAT_TARBALL = path.join(TESTDATA, 'dat', 'deltalake-dat-v0.0.3.tar.gz');

/**
 * false when every path exists (run the suite); else the skip reason, after a console warning. With
 * OTSLAKE_REQUIRE_CONFORMANCE=1 a missing path throws instead: the data was promised.
 */
export function optionalData(
  suite: string,
  paths: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = console.warn,
): string | false {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return false;
  const reason = `${suite}: conformance data not found at ${missing.join(', ')} (set OTSLAKE_DELTA_TESTDATA, or put the data in ../shared/testdata/delta)`;
  if (env.OTSLAKE_REQUIRE_CONFORMANCE === '1') throw new Error(`OTSLAKE_REQUIRE_CONFORMANCE=1 but ${reason}`);
  warn(`SKIPPED ${reason}`);
  return reason;
}
