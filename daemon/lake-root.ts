/** The lake root store of a resolved config (file:// or oss:// with its settings). */
import type { ResolvedConfig } from '../config/load.js';
import type { ObjectStore } from '../lake/object-store.js';
import { openStore } from '../lake/store.js';

export function openLakeRoot(config: ResolvedConfig): ObjectStore {
  const oss = config.lake.oss;
  if (oss === null) return openStore(config.lake.uri);
  return openStore(config.lake.uri, {
    oss: {
      endpoint: oss.endpoint,
      ...(oss.region !== null ? { region: oss.region } : {}),
      accessKeyId: oss.accessKeyId,
      accessKeySecret: oss.accessKeySecret,
      ...(oss.securityToken !== null ? { stsToken: oss.securityToken } : {}),
      pathStyle: oss.sldEnable,
    },
  });
}
