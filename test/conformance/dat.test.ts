/**
 * Delta Acceptance Tests 0.0.3: for every case and expected version, the snapshot's version and
 * protocol, and the table content compared as a multiset of rows with the expected Parquet output —
 * for the cases whose features otslake claims; the others must be refused with
 * OTSL_LAKE_UNSUPPORTED_FEATURE (lake/table-features.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lake/snapshot.js';
import { assertContentReadable } from '../../lake/table-features.js';
import { LocalStore } from '../../lake/local-store.js';
import { canonicalRows, readExpectedRows, readTableRows } from './table-content.js';
import { DAT_TARBALL, makeTempDir, removeDir, unpackDat } from './unpack.js';
import { optionalData } from '../helpers/conformance-data.js';

/** Cases whose content needs a feature we refuse for content reads, and the feature named in the error. */
const REFUSED: Record<string, string> = {
  column_mapping: 'columnMapping',
  iceberg_compat_v1: 'columnMapping',
  deletion_vectors: 'deletionVectors',
};

const EXPECTED_CASES = [
  'all_primitive_types',
  'basic_append',
  'basic_partitioned',
  'cdf',
  'check_constraints',
  'column_mapping',
  'deletion_vectors',
  'generated_columns',
  'iceberg_compat_v1',
  'multi_partitioned',
  'multi_partitioned_2',
  'nested_types',
  'no_replay',
  'no_stats',
  'partitioned_with_null',
  'stats_as_struct',
  'timestamp_ntz',
  'with_checkpoint',
  'with_schema_change',
];

interface VersionMeta {
  version: number;
  min_reader_version: number;
  min_writer_version: number;
}

const skip = optionalData('DAT 0.0.3 reader conformance (test/conformance/dat.test.ts)', [DAT_TARBALL]);

describe.skipIf(skip)('DAT 0.0.3 reader conformance', () => {
  let tmp: string;
  let root: string;
  beforeAll(() => {
    tmp = makeTempDir('otsl-dat-');
    root = unpackDat(tmp);
  });
  afterAll(() => removeDir(tmp));

  it('has the 19 cases this suite expects', () => {
    expect(readdirSync(root).sort()).toEqual(EXPECTED_CASES);
  });

  for (const name of EXPECTED_CASES) {
    it(`${name}: version, protocol and content of every expected snapshot`, async () => {
      const caseDir = path.join(root, name);
      const table = new LocalStore(path.join(caseDir, 'delta'));
      const expectedRoot = new LocalStore(path.join(caseDir, 'expected'));
      const versions = readdirSync(path.join(caseDir, 'expected'));
      expect(versions.length).toBeGreaterThan(0);
      for (const dirName of versions) {
        const meta = JSON.parse(readFileSync(path.join(caseDir, 'expected', dirName, 'table_version_metadata.json'), 'utf8')) as VersionMeta;
        const snapshot = await loadSnapshot(table, dirName === 'latest' ? {} : { version: meta.version });
        expect(snapshot.version, `${name}/${dirName} version`).toBe(meta.version);
        expect(snapshot.protocol.minReaderVersion, `${name}/${dirName} reader`).toBe(meta.min_reader_version);
        expect(snapshot.protocol.minWriterVersion, `${name}/${dirName} writer`).toBe(meta.min_writer_version);
        const refused = REFUSED[name];
        if (refused) {
          expect(() => assertContentReadable(snapshot)).toThrow(
            expect.objectContaining({ code: 'OTSL_LAKE_UNSUPPORTED_FEATURE', context: expect.objectContaining({ feature: refused }) }),
          );
          continue;
        }
        assertContentReadable(snapshot);
        const actual = canonicalRows(await readTableRows(table, snapshot));
        const expected = canonicalRows(await readExpectedRows(expectedRoot, `${dirName}/table_content/`));
        expect(actual.length, `${name}/${dirName} row count`).toBe(expected.length);
        expect(actual, `${name}/${dirName} rows`).toEqual(expected);
      }
    });
  }
});
