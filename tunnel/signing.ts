/**
 * Tablestore V2 request signing (docs/tunnel-protocol.md §Signing).
 *
 *   StringToSign = Path "\n" "POST" "\n" "" "\n" CanonicalHeaders
 *   CanonicalHeaders = every x-ots-* header except x-ots-signature, lower-cased, sorted, "name:trim(value)\n"
 *   x-ots-signature = base64(HMAC-SHA1(secret, StringToSign))
 *
 * Signing over *all* x-ots-* headers (not a fixed whitelist as Go does) is what a server must verify
 * against, so whatever we add (trace ids, STS token) is covered automatically.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The Tunnel API version the Go SDK sends; the server also accepts the table API's 2015-12-31 (docs/tunnel-protocol.md §Transport). */
export const TUNNEL_API_VERSION = '2018-04-01';

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string | undefined;
}

export interface SignInput {
  /** URI path only, e.g. '/tunnel/readrecords'. */
  path: string;
  body: Uint8Array;
  instanceName: string;
  credentials: Credentials;
  apiVersion?: string;
  /** Injected for deterministic tests; defaults to now. */
  date?: Date;
  /** Extra x-ots-* headers to send and sign (e.g. a trace id). */
  extraHeaders?: Record<string, string>;
}

/** base64 of the raw 16-byte MD5 digest (not of its hex form: the Tunnel server checks the raw form; docs/tunnel-protocol.md §Transport). */
export function computeContentMd5(body: Uint8Array): string {
  return createHash('md5').update(body).digest('base64');
}

function buildCanonicalHeaders(headers: Record<string, string>): string {
  const entries: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-ots-') || lower === 'x-ots-signature') continue;
    entries.push([lower, String(value).trim()]);
  }
  // Byte order on the lower-cased names, as Java's TreeMap and the Node SDK both end up with.
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let out = '';
  for (const [name, value] of entries) out += `${name}:${value}\n`;
  return out;
}

export function buildStringToSign(path: string, headers: Record<string, string>): string {
  return `${path}\nPOST\n\n${buildCanonicalHeaders(headers)}`;
}

export function computeSignature(accessKeySecret: string, stringToSign: string): string {
  return createHmac('sha1', accessKeySecret).update(stringToSign, 'utf8').digest('base64');
}

/** Returns every x-ots-* header of a request, x-ots-signature included. */
export function signRequest(input: SignInput): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ots-date': (input.date ?? new Date()).toISOString(),
    'x-ots-apiversion': input.apiVersion ?? TUNNEL_API_VERSION,
    'x-ots-accesskeyid': input.credentials.accessKeyId,
    'x-ots-instancename': input.instanceName,
    'x-ots-contentmd5': computeContentMd5(input.body),
    ...input.extraHeaders,
  };
  if (input.credentials.securityToken) headers['x-ots-ststoken'] = input.credentials.securityToken;
  headers['x-ots-signature'] = computeSignature(input.credentials.accessKeySecret, buildStringToSign(input.path, headers));
  return headers;
}

/**
 * Server-side check (used by tests and available to the emulator): recomputes the signature over the
 * x-ots-* headers received. Returns false rather than throwing: a bad signature is an expected outcome.
 */
export function verifySignature(path: string, headers: Record<string, string | string[] | undefined>, accessKeySecret: string): boolean {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    flat[k] = Array.isArray(v) ? v.join(',') : v;
  }
  const given = flat['x-ots-signature'];
  if (given === undefined) return false;
  const expected = Buffer.from(computeSignature(accessKeySecret, buildStringToSign(path, flat)));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
