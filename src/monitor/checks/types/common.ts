import { z } from 'zod';
import { parseDuration } from '../../../lib/units.ts';

/** A duration parameter ("5s", "2h" or milliseconds), parsed to milliseconds. */
export const durationParam = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      try {
        return parseDuration(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    });

export const hostParam = z.string().min(1).max(255).regex(/^[A-Za-z0-9.:_[\]-]+$/, 'a host name or address');
export const portParam = z.number().int().min(1).max(65535);

/** A percentage threshold pair where the warning comes first. */
export const thresholds = (warning: number, critical: number) => ({
  warning: z.number().min(0).max(100).default(warning),
  critical: z.number().min(0).max(100).default(critical),
});

/** A regular expression given as text, checked where it is configured. */
export const regexParam = z.string().min(1).max(1000).refine((text) => {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

export function percent(value: number): string {
  return `${value.toFixed(1)} %`;
}
