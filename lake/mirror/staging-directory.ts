/**
 * Where a mirror batch's changelog files are staged. Apart from lake/mirror/staging.ts (which reads them back,
 * through the Parquet reader) so that the channel task, which only writes there, does not load the reader.
 */
import { OtslakeError } from '../../common/errors.js';

export const STAGING_ROOT = '_otslake/staging/';

/** Directory (inside the table) of one batch's staged changelog files. */
export function stagingDirectory(batchId: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(batchId)) {
    throw new OtslakeError('OTSL_INTERNAL', `batch id "${batchId}" cannot name a staging directory`, { context: { batchId } });
  }
  return `${STAGING_ROOT}${batchId}/`;
}
