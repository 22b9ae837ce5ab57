/**
 * Picks the target for a request's `model`, in this order:
 *   1. `NAME/upstream-model` names target NAME explicitly;
 *   2. the first target (in file order) with a `model_map` key or a `models` pattern that matches;
 *   3. `[defaults] target`;
 *   4. the only target, when there is one and it declares no patterns;
 *   5. otherwise 404 model_not_found.
 * The model sent upstream is the `model_map` value when there is one, else the name as asked;
 * after an explicit prefix, the rest is sent as written. Patterns are compiled once at start-up.
 */
import type { TargetConfig } from '../config.js';
import { ModelNotFoundError } from '../errors.js';

export interface Route {
  target: TargetConfig;
  /** The model name sent upstream. */
  upstreamModel: string;
  /** The name a fallback target maps (the client's name, without an explicit `NAME/` prefix). */
  model: string;
}

export class TargetRouter {
  private readonly byName: ReadonlyMap<string, TargetConfig>;
  private readonly rules: ReadonlyArray<{ target: TargetConfig; patterns: RegExp[] }>;
  private readonly fallback: TargetConfig | null;

  constructor(targets: readonly TargetConfig[], defaultTarget: string | null = null) {
    this.byName = new Map(targets.map((t) => [t.name, t]));
    this.rules = targets.map((target) => ({ target, patterns: target.models.map(compilePattern) }));
    const only = targets.length === 1 && targets[0]?.models.length === 0 ? targets[0] : null;
    this.fallback = (defaultTarget === null ? null : this.byName.get(defaultTarget)) ?? only ?? null;
  }

  route(model: string): Route {
    const slash = model.indexOf('/');
    if (slash > 0) {
      const named = this.byName.get(model.slice(0, slash));
      // The rest is the upstream's own model name: sent as written, not looked up in model_map.
      if (named)
        return { target: named, upstreamModel: model.slice(slash + 1), model: model.slice(slash + 1) };
    }
    for (const rule of this.rules) {
      if (Object.hasOwn(rule.target.modelMap, model) || rule.patterns.some((p) => p.test(model))) {
        return this.routeTo(rule.target, model);
      }
    }
    if (this.fallback) return this.routeTo(this.fallback, model);
    throw new ModelNotFoundError(model);
  }

  /** The same public model name on another target (a fallback). */
  routeTo(target: TargetConfig, model: string): Route {
    // hasOwn: a model named "constructor" or "toString" is not a property of the map.
    const mapped = Object.hasOwn(target.modelMap, model) ? target.modelMap[model] : undefined;
    return { target, upstreamModel: mapped ?? model, model };
  }

  target(name: string): TargetConfig | undefined {
    return this.byName.get(name);
  }

  /** Model names clients can ask for: explicit `models` entries (no wildcard) and `model_map` keys. */
  listModels(): Array<{ id: string; target: string }> {
    const seen = new Set<string>();
    const out: Array<{ id: string; target: string }> = [];
    for (const { target } of this.rules) {
      for (const id of [...Object.keys(target.modelMap), ...target.models.filter((m) => !m.includes('*'))]) {
        if (!seen.has(id)) {
          seen.add(id);
          out.push({ id, target: target.name });
        }
      }
    }
    return out;
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
