/** Real directories under os.tmpdir() for tests, removed by `cleanup()` (call it in afterEach/afterAll). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TmpDir {
  readonly path: string;
  cleanup(): Promise<void>;
}

export async function createTmpDir(prefix = 'otslake-test-'): Promise<TmpDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
