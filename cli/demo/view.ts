/**
 * The demo's live view: about once a second, what was written to Tablestore and what landed in the
 * lake. On a terminal the block redraws in place; otherwise (a pipe, a CI log, a test) each refresh is
 * one plain line, so the output stays greppable.
 */

export interface DemoSample {
  readonly elapsedMs: number;
  /** Changes the writer made (puts + updates + deletes). */
  readonly written: number;
  readonly puts: number;
  readonly updates: number;
  readonly deletes: number;
  readonly writeErrors: number;
  /** Changelog rows committed to the lake by this run. */
  readonly landed: number;
  readonly commits: number;
  /** Latest Delta version, or null before the first commit. */
  readonly version: number | null;
  /** How long ago the newest landed change was written; null when unknown. */
  readonly lagMs: number | null;
  readonly state: string;
}

export interface ViewOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

function formatRate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

function formatLag(lagMs: number | null): string {
  if (lagMs === null) return '-';
  return lagMs < 10_000 ? `${(lagMs / 1000).toFixed(1)}s` : `${Math.round(lagMs / 1000)}s`;
}

export class DemoView {
  private previous: DemoSample | null = null;
  private drawnLines = 0;

  constructor(private readonly out: ViewOutput) {}

  /** Someone else wrote to the output: the next refresh draws below it instead of over it. */
  release(): void {
    this.drawnLines = 0;
  }

  /** Renders one refresh; rates are per second since the previous one. */
  render(sample: DemoSample): void {
    const prev = this.previous;
    const seconds = prev ? Math.max(0.001, (sample.elapsedMs - prev.elapsedMs) / 1000) : Math.max(0.001, sample.elapsedMs / 1000);
    const writtenRate = (sample.written - (prev?.written ?? 0)) / seconds;
    const landedRate = (sample.landed - (prev?.landed ?? 0)) / seconds;
    this.previous = sample;
    const t = `${Math.round(sample.elapsedMs / 1000)}s`;
    const version = sample.version === null ? '-' : String(sample.version);
    if (!this.out.isTTY) {
      this.out.write(
        `demo t=${t} state=${sample.state} written=${sample.written} written/s=${formatRate(writtenRate)} landed=${sample.landed} landed/s=${formatRate(landedRate)} ` +
          `lag=${formatLag(sample.lagMs)} commits=${sample.commits} version=${version} write-errors=${sample.writeErrors}\n`,
      );
      return;
    }
    const lines = [
      `otslake demo  ${t}  daemon ${sample.state}`,
      `  Tablestore  written ${String(sample.written).padStart(8)}  ${formatRate(writtenRate).padStart(7)} rows/s   (put ${sample.puts}, update ${sample.updates}, delete ${sample.deletes}${sample.writeErrors ? `, errors ${sample.writeErrors}` : ''})`,
      `  Delta lake  landed  ${String(sample.landed).padStart(8)}  ${formatRate(landedRate).padStart(7)} rows/s   lag ${formatLag(sample.lagMs)}   commits ${sample.commits}   version ${version}`,
    ];
    // Move up over the previous block and clear each line before rewriting it.
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    this.out.write(up + lines.map((l) => `\x1b[2K${l}`).join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}
