/**
 * Multipart upload: initiate (`POST ?uploads`), UploadPart (`PUT ?partNumber&uploadId`, ETag header
 * required by `ali-oss`), complete (`POST ?uploadId`, honours `x-oss-forbid-overwrite` with EC
 * 0042-00000214) and abort (`DELETE ?uploadId`). Parts live in memory even with a data directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { md5Etag, type Bucket } from './bucket.js';
import { checkContentMd5 } from './object-handlers.js';
import { fail, forbidsOverwrite, header, userMetadata, type OssReply, type OssRequest } from './request.js';
import { document, element, unescapeXml } from './xml.js';

/** Every part but the last must be at least this big (the real service's limit). */
export const MIN_PART_BYTES = 100 * 1024;
const MAX_PART_NUMBER = 10_000;

interface Part {
  body: Buffer;
  etag: string;
}

interface Upload {
  bucket: string;
  key: string;
  contentType: string;
  meta: Record<string, string>;
  parts: Map<number, Part>;
}

const XML_HEADERS = { 'Content-Type': 'application/xml' };

function normalizeEtag(etag: string): string {
  return etag.replace(/"/g, '').trim().toUpperCase();
}

/** Parses `<CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>…` in the order given. */
export function parseCompleteBody(xml: string): Array<{ number: number; etag: string }> {
  const parts: Array<{ number: number; etag: string }> = [];
  for (const m of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const number = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1]!);
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(m[1]!);
    if (!number || !etag) throw fail('MalformedXML');
    parts.push({ number: Number(number[1]), etag: unescapeXml(etag[1]!) });
  }
  if (parts.length === 0 || !/<CompleteMultipartUpload[\s>]/.test(xml)) throw fail('MalformedXML');
  return parts;
}

export class MultipartUploads {
  private readonly uploads = new Map<string, Upload>();

  get active(): number {
    return this.uploads.size;
  }

  private find(req: OssRequest, bucket: Bucket): Upload {
    const upload = this.uploads.get(req.query.get('uploadId') ?? '');
    if (upload === undefined || upload.bucket !== bucket.name || upload.key !== req.key)
      throw fail('NoSuchUpload', { UploadId: req.query.get('uploadId') ?? '' });
    return upload;
  }

  initiate(bucket: Bucket, req: OssRequest): OssReply {
    // The real service checks forbid-overwrite at initiate time too; the decisive check is at complete.
    if (forbidsOverwrite(req.headers) && bucket.head(req.key) !== undefined) throw fail('FileAlreadyExists');
    const uploadId = randomBytes(16).toString('hex').toUpperCase();
    this.uploads.set(uploadId, {
      bucket: bucket.name,
      key: req.key,
      contentType: header(req.headers, 'content-type') ?? 'application/octet-stream',
      meta: userMetadata(req.headers),
      parts: new Map(),
    });
    const xml = document('InitiateMultipartUploadResult', element('Bucket', bucket.name) + element('Key', req.key) + element('UploadId', uploadId));
    return { status: 200, headers: XML_HEADERS, body: xml };
  }

  uploadPart(bucket: Bucket, req: OssRequest): OssReply {
    const upload = this.find(req, bucket);
    const raw = req.query.get('partNumber') ?? '';
    const partNumber = Number(raw);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw fail('InvalidArgument', { ArgumentName: 'partNumber', ArgumentValue: raw });
    }
    checkContentMd5(req);
    const etag = md5Etag(req.body);
    upload.parts.set(partNumber, { body: req.body, etag });
    return { status: 200, headers: { ETag: etag } };
  }

  async complete(bucket: Bucket, req: OssRequest): Promise<OssReply> {
    const upload = this.find(req, bucket);
    const uploadId = req.query.get('uploadId')!;
    const requested =
      header(req.headers, 'x-oss-complete-all')?.toLowerCase() === 'yes'
        ? [...upload.parts.entries()].sort(([a], [b]) => a - b).map(([number, part]) => ({ number, etag: part.etag }))
        : parseCompleteBody(req.body.toString('utf8'));
    const chosen: Part[] = [];
    let previous = 0;
    for (const { number, etag } of requested) {
      if (number <= previous) throw fail('InvalidPartOrder');
      previous = number;
      const part = upload.parts.get(number);
      if (part === undefined || normalizeEtag(part.etag) !== normalizeEtag(etag)) throw fail('InvalidPart', { PartNumber: String(number), ETag: etag });
      chosen.push(part);
    }
    if (chosen.slice(0, -1).some((p) => p.body.length < MIN_PART_BYTES)) throw fail('EntityTooSmall');
    const body = Buffer.concat(chosen.map((p) => p.body));
    const digest = createHash('md5');
    for (const part of chosen) digest.update(Buffer.from(normalizeEtag(part.etag), 'hex'));
    const etag = `"${digest.digest('hex').toUpperCase()}-${chosen.length}"`;
    const result = await bucket.write(
      req.key,
      body,
      { contentType: upload.contentType, meta: upload.meta, type: 'Multipart', etag },
      forbidsOverwrite(req.headers),
    );
    if (!result.written) throw fail('FileAlreadyExistsOnComplete');
    this.uploads.delete(uploadId);
    const xml = document(
      'CompleteMultipartUploadResult',
      element('Location', `http://${bucket.name}.oss-emulator/${req.key}`) + element('Bucket', bucket.name) + element('Key', req.key) + element('ETag', etag),
    );
    return { status: 200, headers: { ...XML_HEADERS, ETag: etag }, body: xml };
  }

  abort(bucket: Bucket, req: OssRequest): OssReply {
    this.find(req, bucket);
    this.uploads.delete(req.query.get('uploadId')!);
    return { status: 204 };
  }
}
