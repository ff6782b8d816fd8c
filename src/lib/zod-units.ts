import { z } from 'zod';
import { parseDuration } from './units.ts';

/** A duration in settings ("15s", "6h", or milliseconds as a number), parsed to milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});
