/**
 * The few XML shapes OSS speaks: escaped text elements for results, and the error document of
 * docs/oss-rest.md §Error responses (Code, Message, RequestId, HostId, EC, RecommendDoc).
 */

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi, (all, name: string) => {
    const lower = name.toLowerCase();
    if (lower === 'amp') return '&';
    if (lower === 'lt') return '<';
    if (lower === 'gt') return '>';
    if (lower === 'quot') return '"';
    if (lower === 'apos') return "'";
    const code = lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
    return Number.isFinite(code) ? String.fromCodePoint(code) : all;
  });
}

/** `<name>text</name>`, or nothing when the value is undefined. */
export function element(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function document(root: string, inner: string): string {
  return `${XML_DECLARATION}<${root}>${inner}</${root}>`;
}

export interface OssErrorSpec {
  status: number;
  code: string;
  message: string;
  /** Alibaba's detailed error code, when the real service is known to send one. */
  ec?: string;
}

/** The errors the emulator produces, with the real service's status, code, message and EC. */
export const OSS_ERRORS = {
  NoSuchKey: { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.', ec: '0026-00000001' },
  NoSuchBucket: { status: 404, code: 'NoSuchBucket', message: 'The specified bucket does not exist.', ec: '0015-00000101' },
  NoSuchUpload: {
    status: 404,
    code: 'NoSuchUpload',
    message: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    ec: '0042-00000002',
  },
  FileAlreadyExists: {
    status: 409,
    code: 'FileAlreadyExists',
    message: 'The object you specified already exists and can not be overwritten.',
    ec: '0026-00000201',
  },
  FileAlreadyExistsOnComplete: {
    status: 409,
    code: 'FileAlreadyExists',
    message: 'The object you specified already exists and can not be overwritten.',
    ec: '0042-00000214',
  },
  InvalidRange: { status: 416, code: 'InvalidRange', message: 'The requested range cannot be satisfied' },
  InvalidDigest: { status: 400, code: 'InvalidDigest', message: 'The Content-MD5 you specified is not valid.' },
  InvalidPart: {
    status: 400,
    code: 'InvalidPart',
    message: "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
  },
  InvalidPartOrder: { status: 400, code: 'InvalidPartOrder', message: 'The list of parts was not in ascending order.' },
  EntityTooSmall: { status: 400, code: 'EntityTooSmall', message: 'Your proposed upload smaller than the minimum allowed object size.' },
  MalformedXML: { status: 400, code: 'MalformedXML', message: 'The XML you provided was not well-formed.' },
  InvalidArgument: { status: 400, code: 'InvalidArgument', message: 'An argument is invalid.' },
  InvalidURI: { status: 400, code: 'InvalidURI', message: 'The request URI is not valid.' },
  InvalidObjectName: { status: 400, code: 'InvalidObjectName', message: 'The specified object name is not valid.' },
  InvalidAccessKeyId: { status: 403, code: 'InvalidAccessKeyId', message: 'The OSS Access Key Id you provided does not exist in our records.' },
  SignatureDoesNotMatch: {
    status: 403,
    code: 'SignatureDoesNotMatch',
    message: 'The request signature we calculated does not match the signature you provided.',
  },
  MethodNotAllowed: { status: 405, code: 'MethodNotAllowed', message: 'The specified method is not allowed against this resource.' },
  InternalError: { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  NotImplemented: { status: 501, code: 'NotImplemented', message: 'The OSS emulator does not implement this operation.' },
  ServiceUnavailable: { status: 503, code: 'ServiceUnavailable', message: 'Please reduce your request rate.' },
} as const satisfies Record<string, OssErrorSpec>;

export type OssErrorName = keyof typeof OSS_ERRORS;

export function errorDocument(spec: OssErrorSpec, requestId: string, hostId: string, extra: Record<string, string> = {}): string {
  const extras = Object.entries(extra)
    .map(([k, v]) => element(k, v))
    .join('');
  const ec = spec.ec === undefined ? '' : element('EC', spec.ec) + element('RecommendDoc', `https://api.aliyun.com/troubleshoot?q=${spec.ec}`);
  return document(
    'Error',
    element('Code', spec.code) + element('Message', spec.message) + element('RequestId', requestId) + element('HostId', hostId) + extras + ec,
  );
}
