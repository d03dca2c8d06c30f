// A JSON Schema validator for the subset our tool schemas and the emission schema use: type, properties,
// required, additionalProperties:false, minimum/maximum/exclusiveMinimum/exclusiveMaximum, enum, const, not,
// anyOf, minItems/maxItems, items, minLength/maxLength, minProperties, format:date-time, format:color and
// format:when (x-unit, x-copy, x-cues and x-bare are annotations for grounding and decoding). An unknown keyword is an
// error, so a new schema feature cannot be silently ignored in the browser while Python enforces it.

import { COLOR_FORMAT, isColor } from "./colors.js";
import { WHEN_FORMAT, isWhen } from "./dates.js";

const KNOWN = new Set(["type", "properties", "required", "additionalProperties", "minimum", "maximum",
  "exclusiveMinimum", "exclusiveMaximum", "enum", "const", "not", "anyOf", "minItems", "maxItems", "items",
  "minLength", "maxLength", "minProperties", "format", "description", "title", "default", "$schema", "x-unit",
  "x-copy", "x-cues", "x-bare"]);

// The extended ISO 8601 forms Python's datetime.fromisoformat accepts (after 'Z' -> '+00:00'): a date, optionally
// with a 'T' or ' ' time hh[:mm[:ss[.fff]]] and an offset. Python also takes basic (20240621T1200) and week dates
// (2024-W25-5); the browser refuses those, so it is never laxer than the Python check.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d+)?)?)?)?)?$/;

export function isDateTime(s) {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d] = [+m[1], +m[2], +m[3]];
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (d > days[mo - 1]) return false;
  if (m[4] !== undefined && (+m[4] > 23 || (m[5] !== undefined && +m[5] > 59) || (m[6] !== undefined && +m[6] > 59))) return false;
  return true;
}

function typeOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;  // "string" | "boolean" | "object"
}

function typeMatches(value, type) {
  const t = typeOf(value);
  return t === type || (type === "number" && t === "integer");
}

export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeOf(a) !== typeOf(b) && !(typeof a === "number" && typeof b === "number")) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && typeof a === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

const show = (v) => JSON.stringify(v);

// Every error as {path, message}; [] when valid. path is like "positions[2].latitude".
export function validate(value, schema, path = "") {
  const errors = [];
  const at = (p) => p || "(root)";
  for (const key of Object.keys(schema)) {
    if (!KNOWN.has(key)) throw new Error(`schema keyword '${key}' at ${at(path)} is not supported by web/static/schema.js`);
  }
  if (schema.anyOf) {
    const branches = schema.anyOf.map((s) => validate(value, s, path));
    if (!branches.some((e) => e.length === 0)) {
      // Report the branch that got furthest (fewest errors): clearer than "matches none".
      const best = branches.reduce((a, b) => (b.length < a.length ? b : a));
      errors.push(...best);
    }
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(value, t))) {
      errors.push({ path, message: `${show(value)} is not of type ${types.map(show).join(", ")}` });
      return errors;  // the other keywords would only repeat the same problem
    }
  }
  if (schema.const !== undefined && !deepEqual(value, schema.const)) {
    errors.push({ path, message: `${show(schema.const)} was expected` });
  }
  if (schema.enum && !schema.enum.some((e) => deepEqual(value, e))) {
    errors.push({ path, message: `${show(value)} is not one of ${show(schema.enum)}` });
  }
  if (schema.not && validate(value, schema.not, path).length === 0) {
    errors.push({ path, message: `${show(value)} should not be valid under ${show(schema.not)}` });
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push({ path, message: `${value} is less than the minimum of ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) errors.push({ path, message: `${value} is greater than the maximum of ${schema.maximum}` });
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) errors.push({ path, message: `${value} is less than or equal to the minimum of ${schema.exclusiveMinimum}` });
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) errors.push({ path, message: `${value} is greater than or equal to the maximum of ${schema.exclusiveMaximum}` });
  }
  if (typeof value === "string") {
    const length = [...value].length;  // code points, like Python's len()
    if (schema.minLength !== undefined && length < schema.minLength) errors.push({ path, message: `${show(value)} is too short` });
    if (schema.maxLength !== undefined && length > schema.maxLength) errors.push({ path, message: `${show(value)} is too long` });
    if (schema.format === "date-time" && !isDateTime(value)) errors.push({ path, message: `${show(value)} is not a 'date-time'` });
    if (schema.format === COLOR_FORMAT && !isColor(value)) errors.push({ path, message: `${show(value)} is not a 'color'` });
    if (schema.format === WHEN_FORMAT && !isWhen(value)) errors.push({ path, message: `${show(value)} is not a 'when'` });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push({ path, message: `should have at least ${schema.minItems} items, has ${value.length}` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push({ path, message: `should have at most ${schema.maxItems} items, has ${value.length}` });
    if (schema.items) value.forEach((item, i) => errors.push(...validate(item, schema.items, `${path}[${i}]`)));
  }
  if (typeOf(value) === "object") {
    const props = schema.properties || {};
    for (const key of schema.required || []) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) errors.push({ path: path ? `${path}.${key}` : key, message: `'${key}' is a required property` });
    }
    if (schema.minProperties !== undefined && Object.keys(value).length < schema.minProperties) {
      errors.push({ path, message: `should have at least ${schema.minProperties} properties` });
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = path ? `${path}.${key}` : key;
      if (props[key]) errors.push(...validate(v, props[key], sub));
      else if (schema.additionalProperties === false) errors.push({ path: sub, message: `unexpected property '${key}'` });
    }
  }
  return errors;
}

// The executed-call contract, like webslm.domain.Domain.check_call: {"tool": NAME, "arguments": {...}}.
export function checkCall(call, tools) {
  if (typeOf(call) !== "object") return [{ path: "", message: `a call must be a JSON object, got ${typeOf(call)}` }];
  const errors = Object.keys(call).filter((k) => k !== "tool" && k !== "arguments")
    .map((k) => ({ path: k, message: "unexpected key (a call has only 'tool' and 'arguments')" }));
  if (!Object.prototype.hasOwnProperty.call(tools, call.tool)) {
    return errors.concat([{ path: "tool", message: `unknown tool ${show(call.tool)}; known tools: ${Object.keys(tools).join(", ")}` }]);
  }
  if (typeOf(call.arguments) !== "object") return errors.concat([{ path: "arguments", message: "missing or not an object" }]);
  return errors.concat(validate(call.arguments, tools[call.tool].parameters, "arguments"));
}
