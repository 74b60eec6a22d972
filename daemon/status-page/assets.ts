/**
 * The status page's three files (page.html, page.css, page.js), shipped as they are beside this
 * module's source. They need no build step; dist/ holds only compiled TypeScript, so
 * from dist/ they are read from the source tree next to it (like config-doc.ts reads docs/).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PageAsset {
  readonly contentType: string;
  readonly body: string;
}

/** Everything the page loads comes from the daemon itself; nothing runs inline. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const FILES = {
  '/': ['page.html', 'text/html; charset=utf-8'],
  '/status-page.css': ['page.css', 'text/css; charset=utf-8'],
  '/status-page.js': ['page.js', 'text/javascript; charset=utf-8'],
} as const;

function sourcePath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url)).replace(/\/dist\/daemon\/status-page\//, '/daemon/status-page/');
}

/**
 * The asset served at a URL path, or undefined when the path is not one of the page's. Read on each
 * request (a page load, not the 2 s polls): small files, and an edited page shows without a restart.
 */
export function pageAsset(path: string): PageAsset | undefined {
  if (!Object.hasOwn(FILES, path)) return undefined;
  const [file, contentType] = FILES[path as keyof typeof FILES];
  return { contentType, body: readFileSync(sourcePath(file), 'utf8') };
}
