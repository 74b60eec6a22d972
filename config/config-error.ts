/**
 * A configuration problem names its key the way an operator would find it in the file
 * (`tables[1].mode`, `lake.oss.endpoint`) and says what is wrong; it never repeats a secret.
 */
import { OtslakeError } from '../common/errors.js';

export interface ConfigIssue {
  /** Dotted path with list indexes, e.g. `tables[1].tunnel.type`; empty for the file as a whole. */
  readonly key: string;
  readonly problem: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.key === '' ? issue.problem : `${issue.key}: ${issue.problem}`;
}

/** OTSL_CONFIG_INVALID carrying every issue found, so that one run of validate-config lists them all. */
export class ConfigError extends OtslakeError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source: string | null) {
    const lines = issues.map(formatIssue);
    const where = source === null ? 'configuration' : `configuration ${source}`;
    const message = lines.length === 1 ? `${where}: ${lines[0]}` : `${where} has ${lines.length} problems:\n  ${lines.join('\n  ')}`;
    super('OTSL_CONFIG_INVALID', message, {
      retriable: false,
      context: { ...(source === null ? {} : { file: source }), ...(issues[0] ? { key: issues[0].key } : {}) },
    });
    this.issues = issues;
  }
}
