/**
 * GetObject Range semantics (docs/oss-rest.md §Ranges). By default OSS ignores an invalid or
 * out-of-range Range and answers 200 with the whole object; with `x-oss-range-behavior: standard`
 * (and for S3 clients) the end is clamped and a start beyond the end is 416. Only the first range of
 * a multi-range request is served.
 */

export type RangeDecision = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

const RANGE = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

export function decideRange(header: string | undefined, size: number, standard: boolean): RangeDecision {
  if (header === undefined || header === '') return { kind: 'full' };
  const first = header.split(',')[0]!;
  const m = RANGE.exec(first.includes('=') ? first : `bytes=${first}`);
  if (!m) return { kind: 'full' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    // Suffix range: the last n bytes.
    const n = Number(b);
    if (n === 0) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
    if (size === 0) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
    if (n > size) return standard ? { kind: 'partial', start: 0, end: size - 1 } : { kind: 'full' };
    return { kind: 'partial', start: size - n, end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? undefined : Number(b);
  if (end !== undefined && end < start) return { kind: 'full' };
  if (start >= size) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
  if (end !== undefined && end >= size) return standard ? { kind: 'partial', start, end: size - 1 } : { kind: 'full' };
  return { kind: 'partial', start, end: end ?? size - 1 };
}
