/** PutObject, GetObject, HeadObject, DeleteObject and CopyObject (docs/oss-rest.md §Operations). */
import { createHash } from 'node:crypto';
import { md5Etag, type Bucket, type StoredObject } from './bucket.js';
import { decideRange } from './range.js';
import { decodeComponent, fail, forbidsOverwrite, header, userMetadata, type OssReply, type OssRequest } from './request.js';
import { document, element } from './xml.js';

export function objectHeaders(object: StoredObject): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': object.contentType,
    ETag: object.etag,
    'Last-Modified': new Date(object.lastModifiedMs).toUTCString(),
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': object.type,
    'x-oss-storage-class': 'Standard',
  };
  for (const [name, value] of Object.entries(object.meta)) headers[`x-oss-meta-${name}`] = value;
  return headers;
}

/** Rejects a body whose MD5 differs from a Content-MD5 the client sent. */
export function checkContentMd5(req: OssRequest): void {
  const expected = header(req.headers, 'content-md5');
  if (expected === undefined) return;
  if (createHash('md5').update(req.body).digest('base64') !== expected) throw fail('InvalidDigest', { 'Content-MD5': expected });
}

function contentType(req: OssRequest): string {
  return header(req.headers, 'content-type') ?? 'application/octet-stream';
}

export async function putObject(bucket: Bucket, req: OssRequest): Promise<OssReply> {
  checkContentMd5(req);
  const etag = md5Etag(req.body);
  const result = await bucket.write(
    req.key,
    req.body,
    { contentType: contentType(req), meta: userMetadata(req.headers), type: 'Normal', etag },
    forbidsOverwrite(req.headers),
  );
  if (!result.written) throw fail('FileAlreadyExists');
  return { status: 200, headers: { ETag: etag, 'Content-MD5': createHash('md5').update(req.body).digest('base64') } };
}

export async function getObject(bucket: Bucket, req: OssRequest): Promise<OssReply> {
  const object = bucket.head(req.key);
  if (object === undefined) throw fail('NoSuchKey', { Key: req.key });
  const standard = req.s3 || header(req.headers, 'x-oss-range-behavior')?.toLowerCase() === 'standard';
  const range = decideRange(header(req.headers, 'range'), object.size, standard);
  if (range.kind === 'unsatisfiable') throw fail('InvalidRange', { ActualObjectSize: String(object.size) });
  const start = range.kind === 'partial' ? range.start : 0;
  const endExclusive = range.kind === 'partial' ? range.end + 1 : object.size;
  const body = await bucket.read(req.key, start, endExclusive);
  if (body === undefined) throw fail('NoSuchKey', { Key: req.key });
  const headers = objectHeaders(object);
  if (range.kind === 'partial') {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${object.size}`;
    return { status: 206, headers, body };
  }
  return { status: 200, headers, body };
}

export function headObject(bucket: Bucket, req: OssRequest): OssReply {
  const object = bucket.head(req.key);
  if (object === undefined) throw fail('NoSuchKey', { Key: req.key });
  return { status: 200, headers: { ...objectHeaders(object), 'Content-Length': String(object.size) } };
}

export async function deleteObject(bucket: Bucket, req: OssRequest): Promise<OssReply> {
  await bucket.delete(req.key);
  return { status: 204 };
}

/** `x-oss-copy-source: /<bucket>/<encodeURIComponent(key)>`; S3 clients may omit the leading '/'. */
function parseCopySource(raw: string): { bucket: string; key: string } {
  const path = (raw.startsWith('/') ? raw.slice(1) : raw).split('?')[0]!;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw fail('InvalidArgument', { ArgumentName: 'x-oss-copy-source', ArgumentValue: raw });
  return { bucket: decodeComponent(path.slice(0, slash)), key: decodeComponent(path.slice(slash + 1)) };
}

export async function copyObject(buckets: ReadonlyMap<string, Bucket>, bucket: Bucket, req: OssRequest): Promise<OssReply> {
  const source = parseCopySource(header(req.headers, 'x-oss-copy-source') ?? header(req.headers, 'x-amz-copy-source') ?? '');
  const sourceBucket = buckets.get(source.bucket);
  if (sourceBucket === undefined) throw fail('NoSuchBucket', { BucketName: source.bucket });
  const object = sourceBucket.head(source.key);
  const body = object === undefined ? undefined : await sourceBucket.read(source.key);
  if (object === undefined || body === undefined) throw fail('NoSuchKey', { Key: source.key });
  const directive = (header(req.headers, 'x-oss-metadata-directive') ?? header(req.headers, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  const replace = directive === 'REPLACE';
  const result = await bucket.write(
    req.key,
    body,
    {
      contentType: replace ? contentType(req) : object.contentType,
      meta: replace ? userMetadata(req.headers) : object.meta,
      type: object.type,
      etag: object.etag,
    },
    forbidsOverwrite(req.headers),
  );
  if (!result.written) throw fail('FileAlreadyExists');
  const xml = document('CopyObjectResult', element('ETag', result.object.etag) + element('LastModified', new Date(result.object.lastModifiedMs).toISOString()));
  return { status: 200, headers: { 'Content-Type': 'application/xml', ETag: result.object.etag }, body: xml };
}
