import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate, sign, stringToSign } from '../../../emulator/tablestore/auth.js';
import { FaultInjector } from '../../../emulator/faults.js';

const creds = { instance: 'myinst', accessKeyId: 'AKID', accessKeySecret: 'secret' };
const NOW = Date.UTC(2024, 8, 13, 14, 59, 7);

function headers(body: Uint8Array, date = '2024-09-13T14:59:07.9132Z'): Record<string, string> {
  const h: Record<string, string> = {
    'x-ots-accesskeyid': 'AKID',
    'x-ots-apiversion': '2018-04-01',
    'x-ots-contentmd5': createHash('md5').update(body).digest('base64'),
    'x-ots-date': date,
    'x-ots-instancename': 'myinst',
    'x-ots-trace-id': '5f1c',
    'user-agent': 'not signed',
  };
  h['x-ots-signature'] = sign('secret', stringToSign('/tunnel/connect', h));
  return h;
}

describe('authenticate', () => {
  it('builds the string to sign of docs/tunnel-protocol.md §Signing (all x-ots-* headers, sorted, minus the signature)', () => {
    const h = headers(new Uint8Array(0));
    expect(stringToSign('/tunnel/connect', h)).toBe(
      '/tunnel/connect\nPOST\n\nx-ots-accesskeyid:AKID\nx-ots-apiversion:2018-04-01\nx-ots-contentmd5:1B2M2Y8AsgTpgAmY7PhCfg==\n' +
        'x-ots-date:2024-09-13T14:59:07.9132Z\nx-ots-instancename:myinst\nx-ots-trace-id:5f1c\n',
    );
  });

  it("accepts a valid request, Go's malformed date fraction included", () => {
    const body = Uint8Array.of(1, 2, 3);
    expect(authenticate('/tunnel/connect', headers(body), body, creds, NOW)).toEqual({ ok: true, accessKeyId: 'AKID' });
    expect(authenticate('/tunnel/connect', headers(body, '2024-09-13T14:59:07Z'), body, creds, NOW).ok).toBe(true);
    // the date is signed: changing it after signing breaks the signature
    expect(authenticate('/tunnel/connect', { ...headers(body), 'x-ots-date': '2024-09-13T14:59:07Z' }, body, creds, NOW).ok).toBe(false);
  });

  it('rejects tampering, other instances, missing headers, bad MD5 and clock skew with service codes', () => {
    const body = Uint8Array.of(1);
    const h = headers(body);
    expect(authenticate('/tunnel/heartbeat', h, body, creds, NOW)).toMatchObject({ ok: false, status: 403, code: 'OTSAuthFailed' });
    expect(authenticate('/tunnel/connect', { ...h, 'x-ots-trace-id': 'changed' }, body, creds, NOW)).toMatchObject({ code: 'OTSAuthFailed' });
    expect(authenticate('/tunnel/connect', h, body, { ...creds, instance: 'other' }, NOW)).toMatchObject({
      code: 'OTSAuthFailed',
      message: expect.stringContaining('myinst'),
    });
    const { 'x-ots-contentmd5': _md5, ...noMd5 } = h;
    expect(authenticate('/tunnel/connect', noMd5, body, creds, NOW)).toMatchObject({
      status: 400,
      code: 'OTSParameterInvalid',
      message: expect.stringContaining('x-ots-contentmd5'),
    });
    expect(authenticate('/tunnel/connect', h, Uint8Array.of(2), creds, NOW)).toMatchObject({ status: 400, code: 'OTSParameterInvalid' });
    expect(authenticate('/tunnel/connect', h, body, creds, NOW + 16 * 60_000)).toMatchObject({
      code: 'OTSAuthFailed',
      message: expect.stringContaining('15 minutes'),
    });
    expect(authenticate('/tunnel/connect', headers(body, 'yesterday'), body, creds, NOW)).toMatchObject({ code: 'OTSParameterInvalid' });
  });
});

describe('FaultInjector', () => {
  const busy = { status: 503, code: 'OTSServerBusy', message: 'busy' };

  it('answers errors per path with the service default, for a limited number of requests', () => {
    const f = new FaultInjector(() => 0);
    f.set({ path: '/PutRow', errorRate: 1, times: 2 });
    expect(f.decide('/GetRow', busy)).toEqual({ latencyMs: 0, action: 'none' });
    expect(f.decide('/PutRow', busy)).toMatchObject({ action: 'error', error: { status: 503, code: 'OTSServerBusy' } });
    expect(f.list()).toEqual([{ path: '/PutRow', errorRate: 1, times: 1 }]);
    expect(f.decide('/PutRow', busy).action).toBe('error');
    expect(f.decide('/PutRow', busy).action).toBe('none');
  });

  it('drops before or after, adds latency, falls back to "*" and validates specs', () => {
    const f = new FaultInjector(() => 0.5);
    f.set({ path: '*', latencyMs: 20 });
    f.set({ path: '/tunnel/readrecords', dropRate: 0.6, drop: 'after' });
    f.set({ path: '/tunnel/heartbeat', dropRate: 0.4 });
    expect(f.decide('/tunnel/readrecords', busy)).toEqual({ latencyMs: 0, action: 'drop-after' });
    expect(f.decide('/tunnel/heartbeat', busy)).toEqual({ latencyMs: 0, action: 'none' });
    expect(f.decide('/ListTable', busy)).toEqual({ latencyMs: 20, action: 'none' });
    f.clear('*');
    expect(f.decide('/ListTable', busy).latencyMs).toBe(0);
    expect(() => f.set({ path: '/x', errorRate: 2 })).toThrow(expect.objectContaining({ code: 'OTSL_EMULATOR' }));
    expect(() => f.set({ path: 'x' })).toThrow(/path/);
    expect(() => f.set({ path: '/x', times: 0 })).toThrow(/times/);
    f.clear();
    expect(f.list()).toEqual([]);
  });
});
