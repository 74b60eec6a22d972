/**
 * What a daemon pays to load its code, from dist/ (run `npm run build` first): CPU of a fresh Node process
 * (user + system of all its threads, `process.cpuUsage`) that loads one module graph, beside the reference
 * measured in the same run, a process that loads nothing. Cases:
 *   main         what `otslake run` loads on the main thread: the CLI, the run command (daemon, pipeline,
 *                config, lake); with --against, the other build may load more (a build before 2026-12-03 loaded
 *                the official tablestore SDK for DescribeTable: add --against-sdk to load it there)
 *   worker       a worker thread importing workers/entry.js; threadCpuMs is the process's CPU from the
 *                thread's first line to the end of the import (the main thread waits meanwhile)
 *   worker-task  the same, plus what the first channel task loads (parquet-wasm's module, by writing a file)
 * Cases alternate within each round, so a busy machine weighs on all of them.
 *
 *   npx tsx bench/startup.ts [--runs 5] [--against /other/checkout/dist]
 *
 * With --against, every case also runs from that build (e.g. the code before a change, built elsewhere),
 * alternating with this one in each round, so that the two are compared under the same load.
 *
 * Prints one JSON line per case (median and range of the runs' CPU ms, minus nothing) and the reference.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, against: { type: 'string' }, 'against-sdk': { type: 'boolean', default: false } },
});
const RUNS = Number(values.runs);
const OWN_DIST = fileURLToPath(new URL('../dist/', import.meta.url));

const REPORT = `const u = process.cpuUsage(); console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000 }));`;

function casesOf(root: string, label: string, loadsSdk: boolean): Record<string, string> {
  const dist = (p: string): string => pathToFileURL(`${root.replace(/\/$/, '')}/${p}`).href;
  return {
    [`main${label}`]: `
    const cli = await import(${JSON.stringify(dist('cli/main.js'))});
    await import(${JSON.stringify(dist('cli/commands/run.js'))});
    ${loadsSdk ? `const { createRequire } = await import('node:module'); createRequire(${JSON.stringify(dist('pipeline/table-schema.js'))})('tablestore');` : ''}
    void cli; ${REPORT}`,
    [`worker${label}`]: workerCase(dist, false),
    [`worker-task${label}`]: workerCase(dist, true),
  };
}

const CASES: Record<string, string> = {
  reference: REPORT,
  ...casesOf(OWN_DIST, '', false),
  ...(values.against ? casesOf(values.against, '@against', values['against-sdk']) : {}),
};

/** Loads the worker entry in a thread; with `task`, also writes one tiny Parquet file there (parquet-wasm's compile). */
function workerCase(dist: (p: string) => string, task: boolean): string {
  const body = `
    const started = process.cpuUsage();
    await import(${JSON.stringify(dist('workers/entry.js'))});
    ${
      task
        ? `const { ParquetFileWriter } = await import(${JSON.stringify(dist('lake/parquet-file.js'))});
           const { LocalStore } = await import(${JSON.stringify(dist('lake/local-store.js'))});
           const os = await import('node:os'); const fs = await import('node:fs');
           const dir = fs.mkdtempSync(os.tmpdir() + '/otslake-startup-');
           const w = new ParquetFileWriter({ store: new LocalStore(dir), columns: [{ name: 'a', type: 'long', nullable: true }] });
           await w.appendRow({ a: 1n }); await w.close(); fs.rmSync(dir, { recursive: true, force: true });`
        : ''
    }
    const u = process.cpuUsage(started);
    (await import('node:worker_threads')).parentPort.postMessage((u.user + u.system) / 1000);`;
  return `
    const { Worker } = await import('node:worker_threads');
    const before = process.cpuUsage();
    const w = new Worker(${JSON.stringify(`(async () => { ${body} })()`)}, { eval: true });
    const threadMs = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
    const u = process.cpuUsage(before);
    console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, threadMs }));`;
}

function runCase(source: string): { cpuMs: number; threadMs?: number } {
  if (process.env.STARTUP_DEBUG) console.error(source);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`case failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { cpuMs: number; threadMs?: number };
}

const results = new Map<string, { cpuMs: number; threadMs?: number }[]>();
for (let round = 0; round < RUNS; round++) {
  for (const [name, source] of Object.entries(CASES)) {
    const list = results.get(name) ?? [];
    list.push(runCase(source));
    results.set(name, list);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number): number => Math.round(x * 10) / 10;
const reference = median(results.get('reference')!.map((r) => r.cpuMs));
for (const [name, list] of results) {
  const cpu = list.map((r) => r.cpuMs);
  const thread = list.flatMap((r) => (r.threadMs === undefined ? [] : [r.threadMs]));
  console.log(
    JSON.stringify({
      bench: `startup.${name}`,
      node: process.version,
      runs: RUNS,
      processCpuMs: round1(median(cpu)),
      range: [round1(Math.min(...cpu)), round1(Math.max(...cpu))],
      ...(name === 'reference' ? {} : { overReferenceMs: round1(median(cpu) - reference) }),
      ...(thread.length > 0 ? { threadCpuMs: round1(median(thread)), threadRange: [round1(Math.min(...thread)), round1(Math.max(...thread))] } : {}),
    }),
  );
}
