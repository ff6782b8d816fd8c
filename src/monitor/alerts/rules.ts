import { parseDuration } from '../../lib/units.ts';
import { DEFAULT_RULES } from './default-rules.ts';
import { parseExpr, type Expr } from './expr.ts';
import type { AlertRule } from './model.ts';
import type { RuleSetting } from './settings.ts';

export interface CompiledRule extends AlertRule {
  ast: Expr;
  /** `for` as written (for display). */
  forText: string;
  /** Evaluated at most this often (null: every evaluationInterval). */
  intervalMs: number | null;
}

/**
 * The rules in effect: the defaults, each changed by the keisan.yaml entry of the same name
 * (only the fields given) or dropped by `disabled: true`, then the new rules of keisan.yaml in
 * their order. The settings were validated when they loaded, so parsing cannot fail here.
 */
export function effectiveRules(settings: readonly RuleSetting[]): CompiledRule[] {
  const byName = new Map(settings.map((rule) => [rule.name, rule]));
  const rules: CompiledRule[] = [];
  for (const base of DEFAULT_RULES) {
    const change = byName.get(base.name);
    if (change?.disabled) continue;
    const forText = change?.for !== undefined ? String(change.for) : base.for;
    const interval = change?.interval !== undefined ? change.interval : base.interval;
    rules.push(
      compile({
        name: base.name,
        expr: change?.expr ?? base.expr,
        forText,
        intervalMs: interval === undefined ? null : parseDuration(interval),
        severity: change?.severity ?? base.severity,
        labels: { ...(base.labels ?? {}), ...(change?.labels ?? {}) },
        summary: change?.summary ?? base.summary,
        description: change?.description ?? base.description,
        origin: change ? 'default, changed in settings' : 'default',
      }),
    );
  }
  for (const rule of settings) {
    if (rule.disabled || DEFAULT_RULES.some((d) => d.name === rule.name)) continue;
    rules.push(
      compile({
        name: rule.name,
        expr: rule.expr!,
        forText: rule.for !== undefined ? String(rule.for) : '0s',
        intervalMs: rule.interval === undefined ? null : parseDuration(rule.interval),
        severity: rule.severity!,
        labels: rule.labels ?? {},
        summary: rule.summary ?? `${rule.name} on {{ $labels.host }}`,
        description: rule.description ?? '',
        origin: 'settings',
      }),
    );
  }
  return rules;
}

function compile(rule: Omit<CompiledRule, 'ast' | 'forMs'>): CompiledRule {
  return { ...rule, forMs: parseDuration(rule.forText), ast: parseExpr(rule.expr).ast };
}
