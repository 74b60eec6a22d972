/**
 * A fresh clone has no ../shared conformance data: its suites must skip loudly and never fail for it.
 * Checked here with the data directory pointed at an empty folder — the selection logic directly, and
 * the conformance suites themselves in a child vitest run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { optionalData } from '../helpers/conformance-data.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('optional conformance data', () => {
  it('absent: a warning naming the suite and the path, a skip reason, no failure; required (CI): a failure', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'otsl-no-data-'));
    try {
      const warnings: string[] = [];
      const missing = path.join(empty, 'dat', 'x.tar.gz');
      const reason = optionalData('some suite', [missing], {}, (l) => warnings.push(l));
      expect(reason).toContain(missing);
      expect(warnings).toEqual([`SKIPPED ${reason}`]);
      expect(optionalData('some suite', [empty], {}, (l) => warnings.push(l))).toBe(false);
      expect(() => optionalData('some suite', [missing], { OTSLAKE_REQUIRE_CONFORMANCE: '1' }, () => undefined)).toThrow(
        /OTSLAKE_REQUIRE_CONFORMANCE=1 but some suite/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('the conformance suites pass with an empty data directory, and say what they skipped', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'otsl-no-data-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, OTSLAKE_DELTA_TESTDATA: empty };
      delete env.OTSLAKE_REQUIRE_CONFORMANCE;
      const run = spawnSync(
        process.execPath,
        [
          path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
          'run',
          'test/conformance/dat.test.ts',
          'test/conformance/kernel.test.ts',
          'test/conformance/inspect.test.ts',
        ],
        { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 },
      );
      const out = run.stdout + run.stderr;
      expect(run.status, out).toBe(0);
      for (const suite of ['test/conformance/dat.test.ts', 'test/conformance/kernel.test.ts', 'test/conformance/inspect.test.ts']) {
        expect(out).toMatch(new RegExp(`SKIPPED .*\\(${suite.replace(/[./]/g, '\\$&')}\\): conformance data not found at ${empty.replace(/[./]/g, '\\$&')}`));
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 150_000);
});
