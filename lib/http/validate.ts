import type { z } from 'zod';
import { type FieldError, invalid } from './problems.ts';

/** Parses `value` with `schema`, or throws a 400 listing every field that is wrong. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return { path: [path, ...issue.keys].filter(Boolean).join('.'), message: 'is not a known field' };
    }
    return { path, message: issue.message };
  });
  const summary = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
  return failWith(`The ${where} is not valid: ${summary}`, errors);
}

function failWith(detail: string, errors: FieldError[]): never {
  throw invalid(detail, errors);
}
