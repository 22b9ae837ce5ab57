/**
 * Checks a request body against `responsesRequestSchema` without a schema library: the schema is
 * a small subset of JSON Schema (type, anyOf, required, properties, additionalProperties, items,
 * minimum, maximum, minLength). It is compiled once, at load, into nested closures that say
 * whether a body is valid (ajv's compilation took ~150 ms of the cold start; this takes well
 * under one); a rejected body is then walked by the interpreter, which says where and why.
 */
import { InvalidRequestError } from '../errors.js';
import { describeValidationError, responsesRequestSchema } from './request-schema.js';

interface SchemaError {
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

export type Schema = {
  type?: string;
  anyOf?: readonly Schema[];
  required?: readonly string[];
  properties?: Readonly<Record<string, Schema>>;
  additionalProperties?: Schema;
  items?: Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
};

/** Where a value sits in the body, as a chain: the JSON Pointer string is built only for errors. */
type Path = { readonly parent: Path; readonly key: string | number } | null;

/** Throws the 400 for the first (deepest) problem in `body`. */
export function validateRequestBody(body: unknown): void {
  // A valid body, the usual case, is checked by the compiled test; the interpreter below runs only
  // to say what is wrong, so both must agree (tests/http/request-validator.test.ts checks they do).
  if (isValidRequest(body)) return;
  const errors: SchemaError[] = [];
  if (check(responsesRequestSchema as Schema, body, null, errors)) return;
  const { param, message } = describeValidationError(errors);
  throw new InvalidRequestError(message, param || null, codeOf(errors));
}

type Test = (value: unknown) => boolean;

/**
 * The schema as nested closures, built once: no schema object is read per request. Reading the
 * schema's differently shaped objects on every request made the interpreter's property reads
 * megamorphic; counted with callgrind, this is about a third of its instructions.
 */
export function compileSchema(schema: Schema): Test {
  if (schema.anyOf) {
    const branches = schema.anyOf.map(compileSchema);
    return (value) => {
      for (const branch of branches) if (branch(value)) return true;
      return false;
    };
  }
  const tests: Test[] = [];
  const { type, minimum, maximum, minLength, items, required, properties, additionalProperties } = schema;
  if (type !== undefined) tests.push((value) => hasType(value, type));
  if (minimum !== undefined) tests.push((value) => typeof value !== 'number' || value >= minimum);
  if (maximum !== undefined) tests.push((value) => typeof value !== 'number' || value <= maximum);
  if (minLength !== undefined) {
    tests.push((value) => typeof value !== 'string' || value.length >= minLength);
  }
  if (items !== undefined) {
    const item = compileSchema(items);
    tests.push((value) => {
      if (!Array.isArray(value)) return true;
      for (const element of value) if (!item(element)) return false;
      return true;
    });
  }
  if (required !== undefined || properties !== undefined || additionalProperties !== undefined) {
    const keys = required ?? [];
    const props = new Map(Object.entries(properties ?? {}).map(([k, s]) => [k, compileSchema(s)]));
    const other = additionalProperties === undefined ? null : compileSchema(additionalProperties);
    tests.push((value) => {
      if (!isObject(value)) return true;
      for (const key of keys) if (!Object.hasOwn(value, key)) return false;
      for (const key of Object.keys(value)) {
        const test = props.get(key) ?? other;
        if (test !== null && !test(value[key])) return false;
      }
      return true;
    });
  }
  if (tests.length === 1) return tests[0] as Test;
  return (value) => {
    for (const test of tests) if (!test(value)) return false;
    return true;
  };
}

const isValidRequest = compileSchema(responsesRequestSchema as Schema);

/** The interpreter's verdict on `value`, which the compiled test must share (exported for tests). */
export function interpretSchema(schema: Schema, value: unknown): boolean {
  return check(schema, value, null, []);
}

function check(schema: Schema, value: unknown, path: Path, errors: SchemaError[]): boolean {
  if (schema.anyOf) {
    const branchErrors: SchemaError[] = [];
    if (schema.anyOf.some((branch) => check(branch, value, path, branchErrors))) return true;
    errors.push(...branchErrors, error(path, 'anyOf', 'must match a schema in anyOf'));
    return false;
  }
  if (schema.type !== undefined && !hasType(value, schema.type)) {
    errors.push(error(path, 'type', `must be ${schema.type}`, { type: schema.type }));
    return false;
  }
  let ok = true;
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) {
      errors.push(error(path, 'minimum', `must be >= ${schema.minimum}`));
      ok = false;
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      errors.push(error(path, 'maximum', `must be <= ${schema.maximum}`));
      ok = false;
    }
  }
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength) {
    errors.push(error(path, 'minLength', `must NOT have fewer than ${schema.minLength} characters`));
    ok = false;
  }
  if (Array.isArray(value) && schema.items) {
    for (let i = 0; i < value.length; i++) {
      if (!check(schema.items, value[i], { parent: path, key: i }, errors)) ok = false;
    }
  }
  if (isObject(value)) {
    if (schema.required) {
      for (const key of schema.required) {
        if (Object.hasOwn(value, key)) continue;
        errors.push(
          error(path, 'required', `must have required property '${key}'`, { missingProperty: key }),
        );
        ok = false;
      }
    }
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const sub =
        schema.properties && Object.hasOwn(schema.properties, key)
          ? schema.properties[key]
          : schema.additionalProperties;
      if (sub && !check(sub, value[key], { parent: path, key }, errors)) ok = false;
    }
  }
  return ok;
}

function error(
  path: Path,
  keyword: string,
  message: string,
  params: Record<string, unknown> = {},
): SchemaError {
  return { instancePath: pointer(path), keyword, message, params };
}

/** The JSON Pointer of a path, escaped as in ajv's instancePath. */
function pointer(path: Path): string {
  let text = '';
  for (let at = path; at !== null; at = at.parent) {
    const key = typeof at.key === 'number' ? String(at.key) : at.key.replace(/~/g, '~0').replace(/\//g, '~1');
    text = `/${key}${text}`;
  }
  return text;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'null':
      return value === null;
    default:
      return true;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The OpenAI error code for the error `describeValidationError` reports (the deepest one). */
function codeOf(errors: readonly SchemaError[]): string {
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length);
  const keyword = (sorted.find((e) => e.keyword !== 'anyOf') ?? sorted[0])?.keyword;
  if (keyword === 'required') return 'missing_required_parameter';
  if (keyword === 'type') return 'invalid_type';
  return 'invalid_value';
}
