import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startOssEmulator } from './emulator/oss/server.js';
import { OssStore } from './lake/oss-store.js';
import { query } from 'chdb';
const emu = await startOssEmulator({ bucket: 'lake', port: 0 });
const s = OssStore.open({ bucket: 'lake', endpoint: emu.endpoint, accessKeyId: 'ak', accessKeySecret: 'sk', prefix: 't1' });
const root = '/tmp/dat-x/out/reader_tests/generated/basic_append/delta';
async function up(rel: string) { for (const e of await readdir(join(root, rel), { withFileTypes: true })) { const r = rel ? `${rel}/${e.name}` : e.name; if (e.isDirectory()) await up(r); else if (!e.name.endsWith('.crc')) await s.put(r, await readFile(join(root, r)), { ifAbsent: true }); } }
await up('');
console.log(query(`SELECT * FROM deltaLakeS3('${emu.endpoint}/lake/t1/', 'ak', 'sk') ORDER BY 1 FORMAT JSONEachRow`, 'JSONEachRow'));
console.log(JSON.stringify(emu.requests.filter(r => r.op !== 'PutObject' && r.op !== 'HeadObject').map(r => `${r.op} ${r.key} ${r.status}`)));
await s.close(); await emu.close();
