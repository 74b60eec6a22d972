/**
 * Optional verification of OSS V1 signatures (docs/oss-rest.md §Signatures), so tests can prove a client
 * signs with the credentials it should (e.g. after an STS refresh). V4 and AWS-signed (S3 reader)
 * requests are accepted unverified; unsigned requests are rejected when verification is on.
 *   Authorization: OSS <ak>:base64(HMAC-SHA1(secret, VERB\nContent-MD5\nContent-Type\nx-oss-date\n
 *                  sorted x-oss-* lines + /bucket/key?sorted-subresources))
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { fail, header } from './request.js';

export interface EmulatorCredential {
  accessKeyId: string;
  accessKeySecret: string;
}

/** Query parameters that are signed as sub-resources (the ones OSS clients put in the resource). */
const SUB_RESOURCES = new Set([
  'acl',
  'append',
  'continuation-token',
  'delete',
  'location',
  'partNumber',
  'position',
  'restore',
  'symlink',
  'tagging',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'x-oss-process',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
]);

export function canonicalString(method: string, headers: IncomingHttpHeaders, bucket: string | null, key: string, query: Map<string, string>): string {
  const ossHeaders = Object.keys(headers)
    .filter((name) => name.startsWith('x-oss-'))
    .sort()
    .map((name) => `${name}:${String(header(headers, name)).trim()}`);
  let resource = bucket === null ? '/' : `/${bucket}/${key}`;
  const subs = [...query.keys()].filter((name) => SUB_RESOURCES.has(name)).sort();
  if (subs.length > 0) resource += `?${subs.map((name) => (query.get(name) ? `${name}=${query.get(name)}` : name)).join('&')}`;
  return [
    method,
    header(headers, 'content-md5') ?? '',
    header(headers, 'content-type') ?? '',
    header(headers, 'x-oss-date') ?? header(headers, 'date') ?? '',
    ...ossHeaders,
    resource,
  ].join('\n');
}

/**
 * Throws the OSS 403 when a V1 signature does not verify; returns the AccessKeyId that signed (or
 * undefined for schemes that are accepted unverified).
 */
export function verifySignature(
  credentials: ReadonlyMap<string, string>,
  method: string,
  headers: IncomingHttpHeaders,
  bucket: string | null,
  key: string,
  query: Map<string, string>,
): string | undefined {
  const auth = header(headers, 'authorization') ?? '';
  if (auth.startsWith('OSS4-HMAC-SHA256') || auth.startsWith('AWS')) return undefined;
  const m = /^OSS ([^:]+):(.+)$/.exec(auth);
  if (!m) throw fail('SignatureDoesNotMatch', { Reason: 'missing or malformed Authorization header' });
  const [, accessKeyId, signature] = m as unknown as [string, string, string];
  const secret = credentials.get(accessKeyId);
  if (secret === undefined) throw fail('SignatureDoesNotMatch', { OSSAccessKeyId: accessKeyId, Reason: 'unknown AccessKeyId' });
  const expected = createHmac('sha1', secret)
    .update(Buffer.from(canonicalString(method, headers, bucket, key, query), 'utf8'))
    .digest();
  const given = Buffer.from(signature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw fail('SignatureDoesNotMatch', { OSSAccessKeyId: accessKeyId });
  return accessKeyId;
}

/** The AccessKeyId a request claims (V1, V4 or AWS), for the request log; never the secret. */
export function accessKeyIdOf(headers: IncomingHttpHeaders): string | undefined {
  const auth = header(headers, 'authorization') ?? '';
  return /^OSS ([^:]+):/.exec(auth)?.[1] ?? /Credential=([^/,\s]+)\//.exec(auth)?.[1];
}
