// chdb (embedded ClickHouse with delta-kernel-rs) is the independent Delta reader the tests use.
// It is not in package.json: its platform packages for macOS/arm64 are absent from the registry these
// machines use, which leaves them out of package-lock.json and makes `npm ci` refuse the lock. So the
// first `npm test` installs it next to the locked tree (Linux x64 only; ~540 MB, cached by npm after).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const CHDB = 'chdb@3.4.0';
const require = createRequire(import.meta.url);
try {
  require.resolve('chdb');
} catch {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.error(`ensure-test-deps: ${CHDB} ships only for Linux x64; Delta read-back tests will fail here`);
    process.exit(0);
  }
  console.error(`ensure-test-deps: installing ${CHDB} (not in the lock file, see scripts/ensure-test-deps.mjs)`);
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', CHDB], { stdio: 'inherit' });
}
