/**
 * The piscina entry of every worker thread: one handler per task kind of workers/protocol.ts, which
 * checks the protocol version, dispatches by kind and returns failures as data. The thread's clients
 * and lake store come from its setup (worker-setup.ts), made once and kept for the thread's life.
 */
import { createRequire } from 'node:module';
import { readChannel } from './channel-task.js';
import { createTaskHandler } from './protocol.js';
import { threadResources } from './worker-setup.js';

/**
 * The mirror tasks are loaded by the first of them: a changelog table's threads never load them (nor the
 * Parquet reader under it). From dist/ by import(); a `.ts` entry (tests, `npx tsx`) runs in its thread under
 * tsx's require hook only, so there it is required by its `.ts` name.
 */
async function mirrorTask(): Promise<typeof import('./mirror-task.js')> {
  if (import.meta.url.endsWith('.ts')) return createRequire(import.meta.url)('./mirror-task.ts') as typeof import('./mirror-task.js');
  return import('./mirror-task.js');
}

export default createTaskHandler({
  'read-channel': (input) => readChannel(input),
  'merge-mirror': async (input) => (await mirrorTask()).runMergeMirrorTask(input, threadResources().tableStore(input.tablePath)),
  'resync-diff': async (input) => (await mirrorTask()).runResyncDiffTask(input, threadResources().tableStore(input.tablePath)),
});
