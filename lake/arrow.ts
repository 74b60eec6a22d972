/**
 * The Arrow JS the lake uses, loaded from the package's single-file bundle (`Arrow.esnext.min.js`, the same
 * release with the same 165 exports) instead of its ~200 ES modules: every worker thread and the daemon's
 * main thread load Arrow at start, and on Node 20 resolving and linking the modules one by one costs
 * ~100–130 ms of CPU per thread where the bundle costs ~16 ms (bench/startup.ts). Arrow objects never leave
 * lake/ (readers get rows, the writer takes rows or column builders), so one instance inside the lake is
 * all that counts; the types stay those of the package.
 *
 * Only what the lake uses is re-exported, each name as a value and as a type, so `arrow.Data<T>` and
 * `new arrow.Utf8()` read as they did with `import * as arrow from 'apache-arrow'`.
 */
import { createRequire } from 'node:module';
import type * as A from 'apache-arrow';

const bundle = createRequire(import.meta.url)('apache-arrow/Arrow.esnext.min') as typeof A;

export const DataType = bundle.DataType;
export type DataType<T extends A.Type = A.Type, C extends A.TypeMap = any> = A.DataType<T, C>;
export const Data = bundle.Data;
export type Data<T extends A.DataType = A.DataType> = A.Data<T>;
export const Vector = bundle.Vector;
export type Vector<T extends A.DataType = any> = A.Vector<T>;
export const Table = bundle.Table;
export type Table<T extends A.TypeMap = any> = A.Table<T>;
export const RecordBatch = bundle.RecordBatch;
export type RecordBatch<T extends A.TypeMap = any> = A.RecordBatch<T>;
export const Schema = bundle.Schema;
export type Schema<T extends A.TypeMap = any> = A.Schema<T>;
export const Field = bundle.Field;
export type Field<T extends A.DataType = any> = A.Field<T>;
export const Struct = bundle.Struct;
export type Struct<T extends A.TypeMap = any> = A.Struct<T>;
export const List = bundle.List;
export type List<T extends A.DataType = any> = A.List<T>;
export const Map_ = bundle.Map_;
export type Map_<K extends A.DataType = any, V extends A.DataType = any> = A.Map_<K, V>;
export const Utf8 = bundle.Utf8;
export type Utf8 = A.Utf8;
export const Binary = bundle.Binary;
export type Binary = A.Binary;
export const Bool = bundle.Bool;
export type Bool = A.Bool;
export const Int32 = bundle.Int32;
export type Int32 = A.Int32;
export const Int64 = bundle.Int64;
export type Int64 = A.Int64;
export const Float64 = bundle.Float64;
export type Float64 = A.Float64;
export const DateDay = bundle.DateDay;
export type DateDay = A.DateDay;
export const TimestampMicrosecond = bundle.TimestampMicrosecond;
export type TimestampMicrosecond = A.TimestampMicrosecond;

export const makeData = bundle.makeData;
export const makeVector = bundle.makeVector;
export const tableToIPC = bundle.tableToIPC;
export const tableFromIPC = bundle.tableFromIPC;
