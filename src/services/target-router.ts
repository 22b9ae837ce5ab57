/**
 * Picks the target for a request's `model`: the first target whose `models` patterns match, or the
 * only target when there is one. Patterns are compiled once at start-up.
 */
import type { TargetConfig } from '../config.js';
import { ModelNotFoundError } from '../errors.js';

export interface Route {
  target: TargetConfig;
  /** The model name sent upstream. */
  upstreamModel: string;
}

export class TargetRouter {
  private readonly rules: ReadonlyArray<{ target: TargetConfig; patterns: RegExp[] }>;

  constructor(private readonly targets: readonly TargetConfig[]) {
    this.rules = targets.map((target) => ({ target, patterns: target.models.map(compilePattern) }));
  }

  route(model: string): Route {
    for (const rule of this.rules) {
      if (rule.patterns.some((p) => p.test(model))) return { target: rule.target, upstreamModel: model };
    }
    const only = this.targets.length === 1 ? this.targets[0] : undefined;
    if (only) return { target: only, upstreamModel: model };
    throw new ModelNotFoundError(model);
  }
}

/** `*` matches any run of characters; everything else is literal; the whole name must match. */
export function compilePattern(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  // `s`: `*` also spans line breaks, so it matches any run of characters.
  return new RegExp(`^${body}$`, 's');
}
