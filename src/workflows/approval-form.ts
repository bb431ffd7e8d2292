/**
 * Approval forms: a JSON Schema the data of an approving decision must satisfy, checked with
 * Ajv (draft 2020-12 keywords it supports by default, plus `format`). A schema is compiled when
 * the step asks for the approval, so a broken form fails the step rather than every decision.
 */
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';

function compiler(): Ajv {
  // One per call: forms are small and rare, and a shared instance would cache every schema ever seen.
  const ajv = new Ajv({ allErrors: true, strict: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
}

/** Throws when `form` is not a usable JSON Schema. */
export function checkForm(form: unknown): void {
  if (typeof form !== 'object' || form === null || Array.isArray(form)) throw new Error('form must be a JSON Schema object');
  compiler().compile(form);
}

/** The problems of `data` against `form` (`/path: message`), empty when it conforms. */
export function formProblems(form: Record<string, unknown>, data: unknown): string[] {
  const validate = compiler().compile(form);
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '(data)'}: ${e.message ?? 'is invalid'}`);
}
