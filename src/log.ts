/**
 * Structured logs: one JSON object per line in production (not a terminal), readable
 * `[Component] message key=value` lines on a terminal. A small writer of our own rather than a
 * logging library: Nova needs exactly these two formats and levels, and no transport threads.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger for a sub-component (`[Queue:emails]`) or with fields added to every line. */
  child(component: string, fields?: LogFields): Logger;
  /** Whether lines at this level are written: hot paths skip building lines nobody reads. */
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'pretty' | 'auto';
  component?: string;
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const json = options.format === 'json' || (options.format !== 'pretty' && !process.stdout.isTTY);
  const make = (component: string, base: LogFields): Logger => {
    const log = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const all = fields ? { ...base, ...fields } : base;
      if (json) {
        write(JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...serialize(all) }));
      } else {
        const extra = Object.entries(serialize(all))
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        const tag = level === 'info' ? '' : `${level.toUpperCase()} `;
        write(`${tag}[${component}] ${msg}${extra ? ` ${extra}` : ''}`);
      }
    };
    // A level below the threshold gets a shared no-op, so a disabled line costs one call.
    const at = (level: LogLevel) => (RANK[level] < min ? noop : (m: string, f?: LogFields) => log(level, m, f));
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (sub, fields) => make(sub, fields ? { ...base, ...fields } : base),
      enabled: (level) => RANK[level] >= min,
    };
  };
  return make(options.component ?? 'Nova', {});
}

const noop = (): void => {};

function serialize(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message, ...(v.cause ? { cause: String(v.cause) } : {}) } : v;
  }
  return out;
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} });
