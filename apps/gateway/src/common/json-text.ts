import { z } from 'zod';

/** A string holding JSON (an environment variable, a query parameter), parsed; bad JSON is an issue saying `message`. */
export function jsonText(message: string, maxLength = Infinity) {
  return z
    .string()
    .max(maxLength)
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
    });
}
