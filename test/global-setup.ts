/**
 * Builds dist/ once, before any test file runs: several suites spawn `bin/otslake` (which runs the
 * compiled JavaScript) and the worker threads of production code load dist/ too. One build here
 * instead of one per suite means no suite ever runs a CLI while another rewrites dist/ under it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export default function buildDist(): void {
  const root = path.resolve(import.meta.dirname, '..');
  const started = Date.now();
  // tsc emits even when it reports type errors; `npm run lint` is where those fail the build.
  const result = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (result.error) throw result.error;
  process.stderr.write(`global setup: dist/ built in ${Date.now() - started} ms\n`);
}
