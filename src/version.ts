/**
 * Portunus's own version, reported by `info` and `--version`. Kept in code (not read from
 * package.json at runtime) so the built server needs nothing beside itself; a test checks they agree.
 */
export const VERSION_STRING = '0.1.0';

/** Janus encodes 1.1.2 as 1102 (major*1000 + minor*100 + patch); we do the same for our own version. */
export function versionNumber(v: string = VERSION_STRING): number {
  const [major = 0, minor = 0, patch = 0] = v.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return major * 1000 + minor * 100 + patch;
}

export const SERVER_NAME = 'Portunus (Janus API compatible)';
export const AUTHOR = 'The Portunus authors';
