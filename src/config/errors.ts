/**
 * The two ways a configuration can be refused. Both carry file and line so the operator
 * can jump straight to the offending text; the server prints `message` and exits.
 */

/** The text is not valid libconfig (or an @include could not be followed). */
export class ConfigSyntaxError extends Error {
  override readonly name = 'ConfigSyntaxError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}:${column}: ${reason}`);
  }
}

/** The text parsed, but a value is unusable (e.g. debug_level 12, rtp_port_range "abc"). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    /** Dotted path as Janus documents it: `media.rtp_port_range`. */
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${key}: ${reason}`);
  }
}
