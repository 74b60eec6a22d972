import { it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { createHarness, waitForEvent } from '../helpers/daemon-harness.js';
it('debug', async () => {
  const h = await createHarness({ pageRecords: 3 });
  for (let id = 1; id <= 6; id++) await h.putRow(id, `o${id}`, id);
  const t0 = Date.now();
  const log = createLogger({ level: 'debug', write: (l) => { const r = JSON.parse(l); if (!/rpc/.test(r.msg)) console.log(Date.now() - t0, r.msg, JSON.stringify(r).slice(0, 300)); } });
  const r = h.start({ log, session: { heartbeatIntervalMs: 30_000 } });
  r.daemon.on('batch', (t, rep) => console.log(Date.now() - t0, 'batch', rep.outcome, rep.quiet, rep.channels));
  await waitForEvent(r.daemon, 'idle', 40_000);
  await r.stop();
  await h.close();
}, 60_000);
