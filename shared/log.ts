import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Write here instead of stdout (a file stream, or a capture in tests). */
  destination?: DestinationStream;
}

export function createLogger(name: string, options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.COLO_FT_LOG_LEVEL ?? 'info';
  return options.destination
    ? pino({ name, level }, options.destination)
    : pino({ name, level });
}

/** A logger that drops everything: for tests and for commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
