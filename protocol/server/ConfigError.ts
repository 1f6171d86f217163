/**
 * A server's configuration (the edge's `--config` file, discovery's `--limits` file) is wrong:
 * the server stops at start with a stable code instead of running on a silent default.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: 'CONFIG_UNKNOWN_KEY' | 'CONFIG_BAD_VALUE' | 'CONFIG_UNREADABLE';
  constructor(code: ConfigError['code'], message: string) {
    super(message);
    this.code = code;
  }
}
