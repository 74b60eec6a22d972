/**
 * The piscina entry of every worker thread: one handler per task kind of workers/protocol.ts, which
 * checks the protocol version, dispatches by kind and returns failures as data. The thread's clients
 * and lake store come from its setup (worker-setup.ts), made once and kept for the thread's life.
 */
import { readChannel } from './channel-task.js';
import { runMergeMirrorTask } from './mirror-task.js';
import { createTaskHandler } from './protocol.js';
import { threadResources } from './worker-setup.js';

export default createTaskHandler({
  'read-channel': (input) => readChannel(input),
  'merge-mirror': (input) => runMergeMirrorTask(input, threadResources().tableStore(input.tablePath)),
});
