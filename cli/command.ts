/** What every `otslake <command>` module exports as `command`; cli/main.ts loads them lazily by name. */
export interface Command {
  summary: string;
  /** Resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}
