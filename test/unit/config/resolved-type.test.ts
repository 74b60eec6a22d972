/**
 * ResolvedConfig is derived from the schema, not written beside it: these assertions are checked by the
 * type check (tsc -p tsconfig.test.json), and fail there if a format, an enum or a derived field drifts.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { Connections } from '../../../common/connections.js';
import type { ResolvedConfig, TableConfig } from '../../../config/load.js';
import { LOG_LEVELS, COLUMN_TYPES, TABLE_MODES, TUNNEL_TYPES, TYPE_CONFLICT_POLICIES } from '../../../config/schema.js';
import { testConfig } from '../../helpers/test-config.js';

describe('ResolvedConfig', () => {
  it('types every key by its format, enums by their value lists', () => {
    const cfg = testConfig();
    expectTypeOf(cfg).toEqualTypeOf<ResolvedConfig>();
    expectTypeOf(cfg.source.endpoint).toEqualTypeOf<string>();
    expectTypeOf(cfg.source.securityToken).toEqualTypeOf<string | null>();
    expectTypeOf(cfg.batch.intervalMs).toEqualTypeOf<number>();
    expectTypeOf(cfg.maintenance.compact.enabled).toEqualTypeOf<boolean>();
    expectTypeOf(cfg.log.level).toEqualTypeOf<(typeof LOG_LEVELS)[number]>();
    expectTypeOf(cfg.connections).toEqualTypeOf<Connections>();
  });

  it('keeps the derived lake fields', () => {
    const { lake } = testConfig();
    expectTypeOf(lake.location.kind).toEqualTypeOf<'file' | 'oss'>();
    expectTypeOf(lake.oss).toEqualTypeOf<{
      readonly endpoint: string;
      readonly region: string | null;
      readonly accessKeyId: string;
      readonly accessKeySecret: string;
      readonly securityToken: string | null;
      readonly sldEnable: boolean;
    } | null>();
  });

  it('types table entries from the entry schema', () => {
    expectTypeOf<TableConfig['mode']>().toEqualTypeOf<(typeof TABLE_MODES)[number]>();
    expectTypeOf<TableConfig['tunnel']>().toEqualTypeOf<{ readonly name: string; readonly type: (typeof TUNNEL_TYPES)[number] }>();
    expectTypeOf<TableConfig['path']>().toEqualTypeOf<string>();
    expectTypeOf<TableConfig['columns']>().toEqualTypeOf<readonly { readonly name: string; readonly type: (typeof COLUMN_TYPES)[number] }[]>();
    expectTypeOf<TableConfig['partitionBy']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<TableConfig['typeConflictPolicy']>().toEqualTypeOf<(typeof TYPE_CONFLICT_POLICIES)[number] | undefined>();
    expectTypeOf<NonNullable<TableConfig['mirror']>>().toEqualTypeOf<{
      readonly buckets: number;
      readonly targetFileSizeBytes: number;
      readonly changeDataFeed: boolean;
    }>();
  });
});
