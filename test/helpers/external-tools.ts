/**
 * Tools from the OS that a few suites need: Debian's `chromium` (the status page's browser test) and
 * `promtool` from Debian's `prometheus` (the alert rules). On a dev box without them those suites
 * skip and say so loudly; `.ci/run` installs them and sets OTSLAKE_REQUIRE_BROWSER=1 and
 * OTSLAKE_REQUIRE_PROMTOOL=1, which turn a missing tool into a failure, so CI never skips them.
 */
import { accessSync, constants } from 'node:fs';
import type { Browser } from 'playwright-core';

export interface ExternalTool {
  /** Absolute path, or null when the tool is missing (and not required). */
  readonly path: string | null;
  /** Why the suite skipped, for the test title. */
  readonly skipReason: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable candidate; a missing tool warns on stderr, or throws when `requireVar` is set to 1. */
export function findTool(name: string, candidates: readonly string[], requireVar: string, install: string): ExternalTool {
  const found = candidates.find(executable) ?? null;
  const skipReason = `SKIPPED: ${name} not found (${candidates.join(', ')}); ${install}`;
  if (found === null) {
    if (process.env[requireVar] === '1') throw new Error(`${name} is required (${requireVar}=1) but not found at ${candidates.join(', ')}; ${install}`);
    process.stderr.write(`\n*** ${skipReason} ***\n\n`);
  }
  return { path: found, skipReason };
}

export const chromiumTool = (): ExternalTool =>
  findTool(
    'chromium',
    [process.env.OTSLAKE_CHROMIUM ?? '/usr/bin/chromium', '/usr/bin/chromium-browser'],
    'OTSLAKE_REQUIRE_BROWSER',
    'install it with `apt-get install chromium` (never downloaded by npm)',
  );

export const promtoolTool = (): ExternalTool =>
  findTool(
    'promtool',
    [process.env.OTSLAKE_PROMTOOL ?? '/usr/bin/promtool', '/usr/local/bin/promtool'],
    'OTSLAKE_REQUIRE_PROMTOOL',
    'install it with `apt-get install prometheus`',
  );

/** Headless Chromium through playwright-core, with everything that would reach the network off. */
export async function launchChromium(executablePath: string): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
