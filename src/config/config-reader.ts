/**
 * Typed readers over the parsed TOML that name the key in every message. `undefined` always means
 * "not given", so callers apply their defaults with `??`.
 */

/** A configuration problem; `message` is the one line printed before exiting. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly key: string | null,
    problem: string,
  ) {
    super(`${source}: ${key === null ? '' : `${key}: `}${problem}`);
    this.name = 'ConfigError';
  }
}

export type Table = Record<string, unknown>;

export class ConfigReader {
  constructor(readonly source: string) {}

  fail(key: string | null, problem: string): never {
    throw new ConfigError(this.source, key, problem);
  }

  table(value: unknown, key: string): Table {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
      this.fail(key, `expected a table, got ${describe(value)}`);
    }
    return value as Table;
  }

  onlyKeys(table: Table, key: string, allowed: readonly string[]): void {
    for (const k of Object.keys(table)) {
      if (!allowed.includes(k)) {
        this.fail(key === '' ? k : `${key}.${k}`, `unknown key; expected one of: ${allowed.join(', ')}`);
      }
    }
  }

  string(value: unknown, key: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string') this.fail(key, `expected a string, got ${describe(value)}`);
    return value;
  }

  boolean(value: unknown, key: string): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') this.fail(key, `expected true or false, got ${describe(value)}`);
    return value;
  }

  integer(value: unknown, key: string, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.fail(key, `expected an integer, got ${describe(value)}`);
    }
    if (value < min || value > max) this.fail(key, `must be between ${min} and ${max}, got ${value}`);
    return value;
  }

  oneOf<T extends string>(value: unknown, key: string, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      this.fail(key, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${describe(value)}`);
    }
    return value as T;
  }

  stringList(value: unknown, key: string): string[] | undefined {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(key, `expected a list of strings, got ${describe(value)}`);
    return value.map((item, i) => this.string(item, `${key}[${i}]`) as string);
  }

  /** A string or a list of strings, as a list. */
  stringOrList(value: unknown, key: string): string[] | undefined {
    if (typeof value === 'string') return [value];
    if (value !== undefined && !Array.isArray(value)) {
      this.fail(key, `expected a string or a list of strings, got ${describe(value)}`);
    }
    return this.stringList(value, key);
  }

  stringMap(value: unknown, key: string): Record<string, string> | undefined {
    if (value === undefined) return undefined;
    const table = this.table(value, key);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(table)) out[k] = this.string(v, `${key}.${k}`) as string;
    return out;
  }

  /** A duration string ("250ms", "5s", "10m", "1h") in milliseconds; "off" or 0 when `allowOff`. */
  duration(value: unknown, key: string, allowOff = false): number | undefined {
    if (value === undefined) return undefined;
    if (allowOff && (value === 0 || value === 'off')) return 0;
    const ms = typeof value === 'string' ? parseDuration(value) : null;
    if (ms === null || (!allowOff && ms === 0)) {
      this.fail(
        key,
        `expected a duration like "250ms", "5s" or "10m"${allowOff ? ' (or "off")' : ''}, got ${describe(value)}`,
      );
    }
    return ms;
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms" -> 250, "1.5s" -> 1500, "10m" -> 600000; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * (DURATION_UNITS[m[2] as string] as number));
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'string') return `the string "${value}"`;
  return `${typeof value} ${String(value)}`;
}
