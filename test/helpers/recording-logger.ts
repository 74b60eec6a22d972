/** A Logger that keeps every line as {level, msg, fields}, for unit tests that assert what was logged. */
import type { Logger } from '../../common/log.js';

export interface LoggedLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

export function recordingLogger(lines: LoggedLine[]): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, msg, fields });
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log } as unknown as Logger;
  return log;
}
