/**
 * ListObjects (v1: marker/NextMarker, Owner always present because `ali-oss` dereferences it) and
 * ListObjectsV2 (list-type=2: continuation-token, start-after, KeyCount, NextContinuationToken).
 * Both group keys under CommonPrefixes when a delimiter is given; a common prefix counts as one key
 * against max-keys, as on the real service.
 */
import type { Bucket, StoredObject } from './bucket.js';
import { fail, type OssReply, type OssRequest } from './request.js';
import { document, element } from './xml.js';

const OWNER = { id: '1000000000000000', displayName: '1000000000000000' };

interface ListPage {
  contents: StoredObject[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last key or common prefix returned: where the next page resumes. */
  last: string | undefined;
}

/** The common prefix a key falls under, if the delimiter occurs after the listing prefix. */
function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  if (delimiter === '' || !key.startsWith(prefix)) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

export function listPage(bucket: Bucket, prefix: string, delimiter: string, after: string, maxKeys: number): ListPage {
  const page: ListPage = { contents: [], commonPrefixes: [], truncated: false, last: undefined };
  if (maxKeys === 0) return page;
  // Resuming after a common prefix must skip every key under it.
  let lastPrefix = commonPrefixOf(after, prefix, delimiter);
  for (const key of bucket.keysFrom(prefix, after)) {
    if (!key.startsWith(prefix)) break; // sorted: past the prefix range
    const group = commonPrefixOf(key, prefix, delimiter);
    if (group !== undefined && group === lastPrefix) continue;
    if (page.contents.length + page.commonPrefixes.length >= maxKeys) {
      page.truncated = true;
      break;
    }
    if (group !== undefined) {
      page.commonPrefixes.push(group);
      lastPrefix = group;
      page.last = group;
    } else {
      const object = bucket.head(key);
      if (object === undefined) continue;
      page.contents.push(object);
      page.last = key;
    }
  }
  return page;
}

function maxKeysOf(req: OssRequest): number {
  const raw = req.query.get('max-keys');
  // OSS defaults to 100 keys a page, S3 to 1000.
  if (raw === undefined || raw === '') return req.s3 ? 1000 : 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw fail('InvalidArgument', { ArgumentName: 'max-keys', ArgumentValue: raw });
  return n;
}

function encoder(req: OssRequest): (value: string) => string {
  if (req.query.get('encoding-type') !== 'url') return (v) => v;
  return (v) => encodeURIComponent(v).replace(/%2F/g, '/');
}

function contentsXml(objects: StoredObject[], withOwner: boolean, encode: (v: string) => string): string {
  return objects
    .map((o) => {
      const owner = withOwner ? `<Owner>${element('ID', OWNER.id)}${element('DisplayName', OWNER.displayName)}</Owner>` : '';
      return `<Contents>${element('Key', encode(o.key))}${element('LastModified', new Date(o.lastModifiedMs).toISOString())}${element('ETag', o.etag)}${element('Type', o.type)}${element('Size', o.size)}${element('StorageClass', 'Standard')}${owner}</Contents>`;
    })
    .join('');
}

function prefixesXml(prefixes: string[], encode: (v: string) => string): string {
  return prefixes.map((p) => `<CommonPrefixes>${element('Prefix', encode(p))}</CommonPrefixes>`).join('');
}

const XML_HEADERS = { 'Content-Type': 'application/xml' };

export function listObjectsV1(bucket: Bucket, req: OssRequest): OssReply {
  const prefix = req.query.get('prefix') ?? '';
  const delimiter = req.query.get('delimiter') ?? '';
  const marker = req.query.get('marker') ?? '';
  const maxKeys = maxKeysOf(req);
  const encode = encoder(req);
  const page = listPage(bucket, prefix, delimiter, marker, maxKeys);
  const inner =
    element('Name', bucket.name) +
    element('Prefix', encode(prefix)) +
    element('Marker', encode(marker)) +
    element('MaxKeys', maxKeys) +
    element('Delimiter', encode(delimiter)) +
    (req.query.get('encoding-type') === 'url' ? element('EncodingType', 'url') : '') +
    element('IsTruncated', page.truncated) +
    (page.truncated && page.last !== undefined ? element('NextMarker', encode(page.last)) : '') +
    contentsXml(page.contents, true, encode) +
    prefixesXml(page.commonPrefixes, encode);
  return { status: 200, headers: XML_HEADERS, body: document('ListBucketResult', inner) };
}

/** Continuation tokens are opaque to clients; here they are the resume key, base64url-encoded. */
function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (Buffer.from(key, 'utf8').toString('base64url') !== token) throw fail('InvalidArgument', { ArgumentName: 'continuation-token', ArgumentValue: token });
  return key;
}

export function listObjectsV2(bucket: Bucket, req: OssRequest): OssReply {
  const prefix = req.query.get('prefix') ?? '';
  const delimiter = req.query.get('delimiter') ?? '';
  const token = req.query.get('continuation-token');
  const startAfter = req.query.get('start-after');
  const maxKeys = maxKeysOf(req);
  const encode = encoder(req);
  const after = token !== undefined && token !== '' ? decodeToken(token) : (startAfter ?? '');
  const page = listPage(bucket, prefix, delimiter, after, maxKeys);
  const inner =
    element('Name', bucket.name) +
    element('Prefix', encode(prefix)) +
    (startAfter !== undefined ? element('StartAfter', encode(startAfter)) : '') +
    (token !== undefined ? element('ContinuationToken', token) : '') +
    element('MaxKeys', maxKeys) +
    element('Delimiter', encode(delimiter)) +
    (req.query.get('encoding-type') === 'url' ? element('EncodingType', 'url') : '') +
    element('IsTruncated', page.truncated) +
    element('KeyCount', page.contents.length + page.commonPrefixes.length) +
    (page.truncated && page.last !== undefined ? element('NextContinuationToken', Buffer.from(page.last, 'utf8').toString('base64url')) : '') +
    contentsXml(page.contents, req.query.get('fetch-owner') === 'true', encode) +
    prefixesXml(page.commonPrefixes, encode);
  return { status: 200, headers: XML_HEADERS, body: document('ListBucketResult', inner) };
}
