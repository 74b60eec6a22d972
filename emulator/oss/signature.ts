/**
 * Verification of OSS signatures (docs/oss-rest.md §Signatures) against the configured key pairs, so tests can prove a client signs
 * with the credentials it should (wrong keys, an STS refresh). Both schemes ali-oss sends:
 *   V1  Authorization: OSS <ak>:base64(HMAC-SHA1(secret, VERB\nContent-MD5\nContent-Type\nx-oss-date\n
 *                      sorted x-oss-* lines + /bucket/key?sorted-subresources))
 *   V4  Authorization: OSS4-HMAC-SHA256 Credential=<ak>/<yyyymmdd>/<region>/oss/aliyun_v4_request,
 *                      [AdditionalHeaders=h1;h2,]Signature=hex(HMAC-SHA256(signing key, string to sign))
 * AWS-signed requests (an S3 path-style reader) are accepted unverified; unsigned requests are refused.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
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

/** ali-oss's encodeString: encodeURIComponent plus !'()* escaped. */
function encodeV4(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The V4 canonical request as ali-oss builds it. A query parameter that arrives with an empty value
 * was either a sub-resource (signed as a bare name) or an empty value (signed as `name=`); the URL
 * cannot tell, so `bareEmpty` decides which of the two forms is built.
 */
export function canonicalRequestV4(
  method: string,
  headers: IncomingHttpHeaders,
  bucket: string | null,
  key: string,
  query: Map<string, string>,
  additional: string[],
  bareEmpty: (name: string) => boolean,
): string {
  const uri = encodeV4(`/${bucket === null ? '' : `${bucket}/`}${key}`).replace(/%2F/g, '/');
  const names = [...query.keys()].sort((a, b) => a.localeCompare(b));
  const canonicalQuery = names
    .map((name) => {
      const value = query.get(name)!;
      return value === '' && bareEmpty(name) ? encodeV4(name) : `${encodeV4(name)}=${encodeV4(value)}`;
    })
    .join('&');
  const signed = new Set(additional);
  for (const name of Object.keys(headers)) if (name === 'content-type' || name === 'content-md5' || name.startsWith('x-oss-')) signed.add(name);
  const canonicalHeaders = [...signed]
    .sort()
    .map((name) => `${name}:${String(header(headers, name) ?? '').trim()}\n`)
    .join('');
  return [method, uri, canonicalQuery, canonicalHeaders, additional.join(';'), header(headers, 'x-oss-content-sha256') ?? 'UNSIGNED-PAYLOAD'].join('\n');
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

/** Hex signature of a canonical request under the V4 scope. */
export function signV4(secret: string, date: string, region: string, canonicalRequest: string): string {
  const day = date.split('T')[0]!;
  const stringToSign = ['OSS4-HMAC-SHA256', date, `${day}/${region}/oss/aliyun_v4_request`, createHash('sha256').update(canonicalRequest).digest('hex')].join(
    '\n',
  );
  const signingKey = hmac(hmac(hmac(hmac(`aliyun_v4${secret}`, day), region), 'oss'), 'aliyun_v4_request');
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

const V4_AUTH =
  /^OSS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/oss\/aliyun_v4_request,(?:\s*AdditionalHeaders=([^,]*),)?\s*Signature=([0-9a-f]{64})$/;

function verifyV4(
  credentials: ReadonlyMap<string, string>,
  auth: string,
  method: string,
  headers: IncomingHttpHeaders,
  bucket: string | null,
  key: string,
  query: Map<string, string>,
): string {
  const m = V4_AUTH.exec(auth);
  if (!m) throw fail('SignatureDoesNotMatch', { Reason: 'malformed OSS4-HMAC-SHA256 Authorization header' });
  const [, accessKeyId, day, region, additionalRaw, signature] = m as unknown as [string, string, string, string, string | undefined, string];
  const secret = credentials.get(accessKeyId);
  if (secret === undefined) throw fail('InvalidAccessKeyId', { OSSAccessKeyId: accessKeyId });
  const date = header(headers, 'x-oss-date') ?? '';
  if (!date.startsWith(day)) throw fail('SignatureDoesNotMatch', { OSSAccessKeyId: accessKeyId, Reason: 'x-oss-date does not match the credential scope' });
  const additional = additionalRaw ? additionalRaw.split(';').filter((h) => h !== '') : [];
  const given = Buffer.from(signature, 'hex');
  // Sub-resources are signed bare, other empty values as `name=`; all-bare as a second reading.
  for (const bareEmpty of [(name: string) => SUB_RESOURCES.has(name), () => true]) {
    const expected = Buffer.from(signV4(secret, date, region, canonicalRequestV4(method, headers, bucket, key, query, additional, bareEmpty)), 'hex');
    if (timingSafeEqual(given, expected)) return accessKeyId;
  }
  throw fail('SignatureDoesNotMatch', { OSSAccessKeyId: accessKeyId });
}

/**
 * Throws the OSS 403 when a V1 or V4 signature does not verify; returns the AccessKeyId that signed
 * (undefined for AWS-signed requests, which are accepted unverified).
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
  if (auth.startsWith('AWS')) return undefined;
  if (auth.startsWith('OSS4-HMAC-SHA256')) return verifyV4(credentials, auth, method, headers, bucket, key, query);
  const m = /^OSS ([^:]+):(.+)$/.exec(auth);
  if (!m) throw fail('SignatureDoesNotMatch', { Reason: 'missing or malformed Authorization header' });
  const [, accessKeyId, signature] = m as unknown as [string, string, string];
  const secret = credentials.get(accessKeyId);
  if (secret === undefined) throw fail('InvalidAccessKeyId', { OSSAccessKeyId: accessKeyId });
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
