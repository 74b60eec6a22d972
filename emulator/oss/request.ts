/**
 * Turning a raw HTTP request into an OSS request: which bucket (virtual-host style from the Host
 * header, as `ali-oss` sends it for IP endpoints, or path style `/<bucket>/<key>`), which key, which
 * sub-resources, and which operation — before any body is read, so faults can target operations.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { OSS_ERRORS, type OssErrorSpec } from './xml.js';

export interface OssRequest {
  method: string;
  /** null for service-level requests (`GET /`). */
  bucket: string | null;
  /** '' for bucket-level requests. */
  key: string;
  query: Map<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
  /** An S3 (AWS-signed) client such as chdb: S3 range and listing defaults apply. */
  s3: boolean;
  op: string;
}

export interface OssReply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** Thrown by handlers: becomes the OSS error document (or `x-oss-err` for HEAD). */
export class OssReplyError extends Error {
  constructor(
    readonly spec: OssErrorSpec,
    readonly extra: Record<string, string> = {},
  ) {
    super(spec.message);
  }
}

export function fail(name: keyof typeof OSS_ERRORS, extra: Record<string, string> = {}): OssReplyError {
  return new OssReplyError(OSS_ERRORS[name], extra);
}

/** Decodes %XX without turning '+' into a space (OSS and S3 clients encode spaces as %20). */
export function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw fail('InvalidURI');
  }
}

export function parseQuery(raw: string): Map<string, string> {
  const query = new Map<string, string>();
  if (raw === '') return query;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    query.set(name, eq < 0 ? '' : decodeComponent(part.slice(eq + 1)));
  }
  return query;
}

/**
 * Virtual-host style when the Host header's first label names a bucket under a domain
 * (`bkt.oss-cn-hangzhou.aliyuncs.com`, `bkt.localhost`); otherwise the first path segment is the bucket.
 */
export function resolveTarget(hostHeader: string | undefined, rawPath: string, buckets: ReadonlySet<string>): { bucket: string | null; key: string } {
  const host = (hostHeader ?? '')
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '');
  const dot = host.indexOf('.');
  const isVirtualHost = dot > 0 && isIP(host) === 0 && (buckets.has(host.slice(0, dot)) || host.endsWith('.aliyuncs.com') || host.endsWith('.localhost'));
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (isVirtualHost) return { bucket: host.slice(0, dot), key: decodeComponent(path) };
  if (path === '') return { bucket: null, key: '' };
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodeComponent(path), key: '' };
  return { bucket: decodeComponent(path.slice(0, slash)), key: decodeComponent(path.slice(slash + 1)) };
}

export function isS3Client(headers: IncomingHttpHeaders): boolean {
  const auth = headers.authorization ?? '';
  return auth.startsWith('AWS') || headers['x-amz-date'] !== undefined || headers['x-amz-content-sha256'] !== undefined;
}

/** The OSS operation name a request asks for; fault rules and the request log use it. */
export function classifyOperation(method: string, bucket: string | null, key: string, query: Map<string, string>, headers: IncomingHttpHeaders): string {
  if (bucket === null) return method === 'GET' ? 'ListBuckets' : 'Unknown';
  if (key === '') {
    if (method === 'GET') {
      if (query.has('location')) return 'GetBucketLocation';
      return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    }
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'PUT') return 'PutBucket';
    return 'Unknown';
  }
  switch (method) {
    case 'PUT':
      if (query.has('uploadId') && query.has('partNumber')) return 'UploadPart';
      if (headers['x-oss-copy-source'] !== undefined || headers['x-amz-copy-source'] !== undefined) return 'CopyObject';
      return 'PutObject';
    case 'GET':
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (query.has('uploads')) return 'InitiateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      return 'Unknown';
    default:
      return 'Unknown';
  }
}

/** `x-oss-meta-*` headers as a map without the prefix (S3's `x-amz-meta-*` too). */
export function userMetadata(headers: IncomingHttpHeaders): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const m = /^x-(?:oss|amz)-meta-(.+)$/.exec(name);
    if (m && value !== undefined) meta[m[1]!] = Array.isArray(value) ? value.join(',') : value;
  }
  return meta;
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `x-oss-forbid-overwrite: true` (case-insensitive), or S3's `If-None-Match: *`. */
export function forbidsOverwrite(headers: IncomingHttpHeaders): boolean {
  return header(headers, 'x-oss-forbid-overwrite')?.toLowerCase() === 'true' || header(headers, 'if-none-match') === '*';
}
