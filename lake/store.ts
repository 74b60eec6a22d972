/**
 * `openStore(uri)`: the one way from a lake URI in the config to an ObjectStore.
 *   file:///abs/path        → LocalStore rooted at /abs/path
 *   oss://bucket[/prefix]   → OssStore (endpoint, credentials, retries from `options.oss`)
 */
import { fileURLToPath } from 'node:url';
import type { LakeConnection } from '../common/connections.js';
import { OtslakeError } from '../common/errors.js';
import { LocalStore, type LocalStoreOptions } from './local-store.js';
import { normalizeRoot } from './object-key.js';
import type { ObjectStore } from './object-store.js';
import { OssStore, type OssStoreOptions } from './oss-store.js';

export interface OpenStoreOptions {
  local?: LocalStoreOptions;
  /** Everything but bucket and prefix, which come from the URI. Required for oss:// URIs. */
  oss?: Omit<OssStoreOptions, 'bucket' | 'prefix'>;
}

export type StoreLocation = { scheme: 'file'; path: string } | { scheme: 'oss'; bucket: string; prefix: string };

function invalid(uri: string, why: string): OtslakeError {
  return new OtslakeError('OTSL_LAKE_URI_INVALID', `invalid lake URI "${uri}": ${why} (expected file:///abs/path or oss://bucket/prefix)`, {
    context: { uri },
  });
}

export function parseStoreUri(uri: string): StoreLocation {
  if (uri.startsWith('file:')) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw invalid(uri, 'not a URL');
    }
    if (url.host !== '') throw invalid(uri, `file URIs name a local path, not host "${url.host}"`);
    if (url.search !== '' || url.hash !== '') throw invalid(uri, 'query and fragment are not allowed');
    const path = fileURLToPath(url);
    return { scheme: 'file', path: path.length > 1 ? path.replace(/\/+$/, '') : path };
  }
  const m = /^oss:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(uri);
  if (m) {
    const bucket = m[1]!;
    if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) throw invalid(uri, `"${bucket}" is not a valid OSS bucket name`);
    let prefix: string;
    try {
      prefix = normalizeRoot(m[2] ?? '', { uri });
    } catch (err) {
      throw invalid(uri, (err as Error).message);
    }
    return { scheme: 'oss', bucket, prefix };
  }
  throw invalid(uri, 'unknown scheme');
}

export function openStore(uri: string, options: OpenStoreOptions = {}): ObjectStore {
  const location = parseStoreUri(uri);
  if (location.scheme === 'file') return new LocalStore(location.path, options.local);
  if (options.oss === undefined) {
    throw new OtslakeError('OTSL_CONFIG_INVALID', `OSS settings (endpoint, credentials) are required to open ${uri}`, { context: { uri } });
  }
  return OssStore.open({ ...options.oss, bucket: location.bucket, prefix: location.prefix });
}

/** The lake root from its connection (common/connections.ts), as the config resolved it. */
export function openLakeStore(lake: LakeConnection): ObjectStore {
  const { uri, oss } = lake;
  if (oss === null) return openStore(uri);
  return openStore(uri, {
    oss: {
      endpoint: oss.endpoint,
      ...(oss.region !== null ? { region: oss.region } : {}),
      accessKeyId: oss.accessKeyId,
      accessKeySecret: oss.accessKeySecret,
      ...(oss.securityToken !== null ? { stsToken: oss.securityToken } : {}),
      pathStyle: oss.pathStyle,
    },
  });
}
