/**
 * The status page's HTTP side without a browser: / and its two files with a strict Content Security
 * Policy, /status/live as JSON, 404 for all of them when the server has no live callback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer, type HttpServerOptions } from '../../daemon/http-server.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(overrides: Partial<HttpServerOptions> = {}): Promise<string> {
  const server = createHttpServer({ host: '127.0.0.1', port: 0, metrics: () => '', readiness: () => ({ ready: true }), status: () => ({}), ...overrides });
  servers.push(server);
  return (await server.start()).url;
}

const get = (url: string, init: RequestInit = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });

describe('status page over HTTP', () => {
  it('serves the page, its script and style from the daemon itself under a CSP that allows nothing else', async () => {
    const url = await start({ live: () => ({ tables: [], big: 12n }) });
    const page = await get(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<meta name="viewport"');
    // Nothing from another host: every src/href is relative or a data: URL.
    const refs = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(2);
    for (const ref of refs) expect(ref, ref).toMatch(/^(?!\/\/)(?![a-z]+:)|^data:/);
    expect(html).not.toMatch(/<script>|<style>| on[a-z]+=/);

    const js = await get(`${url}/status-page.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain("fetch('status/live'");
    const css = await get(`${url}/status-page.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).not.toMatch(/@import|url\(/);

    const live = await get(`${url}/status/live`);
    expect(live.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await live.json()).toEqual({ tables: [], big: '12' });
    const head = await get(`${url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers 404 for the page and its data when the server has no live callback', async () => {
    const url = await start();
    for (const path of ['/', '/status-page.js', '/status/live']) expect((await get(`${url}${path}`)).status, path).toBe(404);
    expect((await get(`${url}/nope`)).status).toBe(404);
  });
});
