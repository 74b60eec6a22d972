/** The lake root store of a resolved config (file:// or oss:// with its settings). */
import type { ResolvedConfig } from '../config/load.js';
import type { ObjectStore } from '../lake/object-store.js';
import { openLakeStore } from '../lake/store.js';
import { ossConnectionOf } from '../workers/worker-setup.js';

export function openLakeRoot(config: ResolvedConfig): ObjectStore {
  return openLakeStore(config.lake.uri, ossConnectionOf(config));
}
