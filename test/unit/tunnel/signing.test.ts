import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildStringToSign, computeContentMd5, computeSignature, signRequest, verifySignature } from '../../../tunnel/signing.js';

const require = createRequire(import.meta.url);
// The official SDK's V2 signer, used here as the reference implementation.
const TableStore = require('tablestore') as {
  Signer: new (req: { path: string; method: string; headers: Record<string, string> }) => {
    addAuthorization(credentials: { accessKeyId: string; secretAccessKey: string; securityToken?: string }, date: Date): void;
  };
};

const DATE = new Date('2024-09-13T14:59:07.913Z');

describe('V2 signing', () => {
  it('matches a fixed string-to-sign vector and its HMAC-SHA1 (computed independently with openssl)', () => {
    const headers = signRequest({
      path: '/tunnel/connect',
      body: new Uint8Array(0),
      instanceName: 'myinst',
      credentials: { accessKeyId: 'AKID', accessKeySecret: 'SECRET' },
      date: DATE,
    });
    expect(buildStringToSign('/tunnel/connect', headers)).toBe(
      '/tunnel/connect\nPOST\n\n' +
        'x-ots-accesskeyid:AKID\nx-ots-apiversion:2018-04-01\nx-ots-contentmd5:1B2M2Y8AsgTpgAmY7PhCfg==\n' +
        'x-ots-date:2024-09-13T14:59:07.913Z\nx-ots-instancename:myinst\n',
    );
    expect(headers['x-ots-signature']).toBe('HHedL0XM3YKT+pInyqHVCl+TlQs=');
  });

  it('produces the same signature as the official tablestore SDK signer, with and without STS token', () => {
    const body = new TextEncoder().encode('\x0a\x05tunnel-body');
    for (const securityToken of [undefined, 'STS-TOKEN-value']) {
      const ours = signRequest({
        path: '/tunnel/readrecords',
        body,
        instanceName: 'inst-1',
        credentials: { accessKeyId: 'LTAIexample', accessKeySecret: 's3cr3t/+=', securityToken },
        date: DATE,
      });
      const sdkRequest = {
        path: '/tunnel/readrecords',
        method: 'POST',
        headers: {
          'x-ots-apiversion': '2018-04-01',
          'x-ots-instancename': 'inst-1',
          'x-ots-contentmd5': computeContentMd5(body),
          'Content-Length': String(body.length),
        } as Record<string, string>,
      };
      new TableStore.Signer(sdkRequest).addAuthorization(
        { accessKeyId: 'LTAIexample', secretAccessKey: 's3cr3t/+=', ...(securityToken ? { securityToken } : {}) },
        DATE,
      );
      expect(ours['x-ots-signature']).toBe(sdkRequest.headers['x-ots-signature']);
      expect(ours['x-ots-ststoken']).toBe(securityToken);
    }
  });

  it('signs every x-ots-* header, trims values, ignores other headers, and verifies', () => {
    const headers = { 'X-OTS-Date': ' 2024 ', 'x-ots-trace-id': 'abc', 'content-type': 'x', 'x-ots-signature': 'old' };
    expect(buildStringToSign('/p', headers)).toBe('/p\nPOST\n\nx-ots-date:2024\nx-ots-trace-id:abc\n');
    const signed = { ...headers, 'x-ots-signature': computeSignature('k', buildStringToSign('/p', headers)) };
    expect(verifySignature('/p', signed, 'k')).toBe(true);
    expect(verifySignature('/p', { ...signed, 'x-ots-trace-id': 'abd' }, 'k')).toBe(false);
    expect(verifySignature('/p', signed, 'other')).toBe(false);
    expect(verifySignature('/p', { 'x-ots-date': 'x' }, 'k')).toBe(false);
  });

  it('content md5 is base64 of the raw digest', () => {
    expect(computeContentMd5(new TextEncoder().encode('abc'))).toBe('kAFQmDzST7DWlj99KOF/cg==');
  });
});
