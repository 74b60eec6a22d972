/**
 * Request authentication of tablestore-local, as docs/tunnel-protocol.md §Signing describes the
 * service: V2 signature (HMAC-SHA1) over every x-ots-* header except the signature itself, sorted
 * by name; access key id; instance name; body MD5. A missing header is an error, never a pass.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface Credentials {
  instance: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export type AuthResult = { ok: true; accessKeyId: string } | { ok: false; status: number; code: string; message: string };

const REQUIRED_HEADERS = ['x-ots-date', 'x-ots-apiversion', 'x-ots-accesskeyid', 'x-ots-instancename', 'x-ots-contentmd5', 'x-ots-signature'];

/** Only the seconds part counts: Go's client prints a malformed fraction (docs/tunnel-protocol.md §Transport). */
const DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$/;
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function stringToSign(path: string, headers: IncomingHttpHeaders): string {
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .filter((n) => n.startsWith('x-ots-') && n !== 'x-ots-signature')
    .sort();
  let canonical = '';
  for (const name of names) canonical += `${name}:${(headerValue(headers, name) ?? '').trim()}\n`;
  return `${path}\nPOST\n\n${canonical}`;
}

export function sign(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function md5Matches(header: string, body: Uint8Array): boolean {
  const digest = createHash('md5').update(body).digest();
  // The raw-digest form is the SDKs'; base64(hex) is what one third-party client sends (docs/tunnel-protocol.md §Transport).
  return header === digest.toString('base64') || header === Buffer.from(digest.toString('hex')).toString('base64');
}

function reject(status: number, code: string, message: string): AuthResult {
  return { ok: false, status, code, message };
}

export function authenticate(path: string, headers: IncomingHttpHeaders, body: Uint8Array, creds: Credentials, nowMs: number): AuthResult {
  for (const name of REQUIRED_HEADERS) {
    if (!headerValue(headers, name)) return reject(400, 'OTSParameterInvalid', `Missing header: '${name}'.`);
  }
  const accessKeyId = headerValue(headers, 'x-ots-accesskeyid')!;
  if (!sameText(accessKeyId, creds.accessKeyId)) return reject(403, 'OTSAuthFailed', 'The AccessKeyID is disabled or does not exist.');
  const instance = headerValue(headers, 'x-ots-instancename')!;
  if (instance !== creds.instance) {
    return reject(403, 'OTSAuthFailed', `Request denied: instance '${instance}' is not served by this endpoint.`);
  }
  const date = DATE.exec(headerValue(headers, 'x-ots-date')!.trim());
  if (!date) return reject(400, 'OTSParameterInvalid', 'Invalid date format in header x-ots-date.');
  const [, y, mo, d, h, mi, s] = date.map(Number) as number[];
  const whenMs = Date.UTC(y!, mo! - 1, d, h, mi, s);
  if (Math.abs(nowMs - whenMs) > MAX_CLOCK_SKEW_MS) {
    return reject(403, 'OTSAuthFailed', 'Mismatch between system time and x-ots-date: the difference is more than 15 minutes.');
  }
  const expected = sign(creds.accessKeySecret, stringToSign(path, headers));
  if (!sameText(headerValue(headers, 'x-ots-signature')!, expected)) {
    return reject(403, 'OTSAuthFailed', 'Signature mismatch.');
  }
  if (!md5Matches(headerValue(headers, 'x-ots-contentmd5')!, body)) {
    return reject(400, 'OTSParameterInvalid', 'Mismatch between the MD5 of the body and x-ots-contentmd5.');
  }
  return { ok: true, accessKeyId };
}
