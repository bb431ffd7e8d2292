import { ConfigError } from '../config.ts';
import { DataDirInUse } from '../storage/index.ts';
import { PortInUse } from './preflight.ts';

/** Exit code for a bad configuration (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;

/**
 * Ends the process with EXIT_CONFIG and the message alone for errors the operator fixes in the
 * environment: a bad variable, a port in use, or an embedded data directory another process holds.
 */
export function exitOnConfigError(err: unknown): void {
  if (err instanceof ConfigError || err instanceof DataDirInUse || err instanceof PortInUse) {
    process.stderr.write(`${err.message}\n`);
    process.exit(EXIT_CONFIG);
  }
}
