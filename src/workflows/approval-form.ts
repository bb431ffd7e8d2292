/**
 * JSON Schemas that data must satisfy, checked with Ajv (draft 2020-12 keywords it supports by
 * default, plus `format`): approval forms, and the arguments and answers of agent tools and
 * outputs given as JSON Schema (workflow documents). A form is compiled when the step asks for
 * the approval, so a broken form fails the step rather than every decision.
 *
 * Compiling costs 3 – 5 ms; an agent checks its tools' arguments on every turn and again on every
 * replay. So a schema is compiled once per process and its validator kept, keyed by the schema's
 * JSON text, for the last MAX_VALIDATORS schemas used. The Ajv instance itself keeps nothing:
 * each schema is removed from it once compiled (the validator does not need it).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export const MAX_VALIDATORS = 500;

const ajv = new Ajv({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
/** Oldest use first (a Map keeps insertion order; a hit moves its entry to the end). */
const validators = new Map<string, ValidateFunction>();

export function validatorOf(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (validate) {
    validators.delete(key);
  } else {
    try {
      validate = ajv.compile(schema);
    } finally {
      ajv.removeSchema(schema);
    }
    if (validators.size >= MAX_VALIDATORS) validators.delete(validators.keys().next().value!);
  }
  validators.set(key, validate);
  return validate;
}

/** Throws when `form` is not a usable JSON Schema. */
export function checkForm(form: unknown): void {
  if (typeof form !== 'object' || form === null || Array.isArray(form)) throw new Error('form must be a JSON Schema object');
  validatorOf(form as Record<string, unknown>);
}

/** The problems of `data` against `form` (`/path: message`), empty when it conforms. */
export function formProblems(form: Record<string, unknown>, data: unknown): string[] {
  const validate = validatorOf(form);
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '(data)'}: ${e.message ?? 'is invalid'}`);
}
