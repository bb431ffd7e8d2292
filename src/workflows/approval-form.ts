/**
 * JSON Schemas that data must satisfy, checked with Ajv (draft 2020-12 keywords it supports by
 * default, plus `format`): approval forms, and the arguments and answers of agent tools and
 * outputs given as JSON Schema (workflow documents). A form is compiled when the step asks for
 * the approval, so a broken form fails the step rather than every decision.
 *
 * Compiling costs 3 – 5 ms; an agent checks its tools' arguments on every turn and again on every
 * replay. So a schema is compiled once and its validator kept, keyed by the schema's JSON text.
 * Ajv keeps every schema an instance compiled (its code-generation scope; removeSchema does not
 * reach it), so validators live in generations: after MAX_COMPILES compiles the instance and its
 * validators are dropped together and a new one starts. A process that uses the same few schemas
 * compiles each once; one that sees new schemas without end holds at most one generation. Schemas
 * that name parts of themselves (`$id`, anchors) register those names on the instance, where
 * another schema could collide with them, and large ones would crowd the cache: both are compiled
 * on an instance of their own, each time, as all schemas used to be.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export const MAX_COMPILES = 500;
const MAX_CACHED_SCHEMA_CHARS = 64_000;
const NAMES_PARTS = /"\$(?:id|anchor|dynamicAnchor)"\s*:/;

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
}

let generation = { ajv: newAjv(), compiles: 0, validators: new Map<string, ValidateFunction>() };

function compile(ajv: Ajv, schema: Record<string, unknown>): ValidateFunction {
  const validate = ajv.compile(schema);
  // An async schema's validator returns a promise, which would pass anything.
  if ((validate as { $async?: unknown }).$async) throw new Error('async schemas ($async) are not supported');
  return validate;
}

/** The validator of `schema`: compiled once per generation (see above), or alone. */
export function validatorOf(schema: Record<string, unknown>): ValidateFunction {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error('a JSON Schema must be an object');
  const key = JSON.stringify(schema);
  if (key.length > MAX_CACHED_SCHEMA_CHARS || NAMES_PARTS.test(key)) return compile(newAjv(), schema);
  let g = generation;
  const cached = g.validators.get(key);
  if (cached) return cached;
  if (g.compiles >= MAX_COMPILES) generation = g = { ajv: newAjv(), compiles: 0, validators: new Map() };
  g.compiles++;
  const validate = compile(g.ajv, schema);
  g.validators.set(key, validate);
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
