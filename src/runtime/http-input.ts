import { z } from 'zod';

/**
 * A non-empty string of at most `max` characters with no control characters: the shape of an
 * identifier a route stores or looks up. PostgreSQL cannot store `\u0000` at all, so without
 * this a NUL in a grant id or queue name reached SQL and answered 500 instead of 400.
 */
export const plainString = (max: number) =>
  z.string().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');
