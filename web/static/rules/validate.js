// JSON Schema validation of calls and model outputs: ajv (draft 2020-12) does the checking, this file turns its
// errors into problems a person reads: {field: "arguments.positions[2].latitude", message: "200 is greater than the
// maximum of 90"}. The formats our schemas use are ours: "date-time" (dates.js isDateTime), "color" (colors.js)
// and "when" (a date as typed, dates.js); the schema marks (emission.js) are annotations ajv accepts and ignores.

import Ajv2020 from "../vendor/ajv.js";
import { COLOR_FORMAT, COLOR_PATTERN, isColor } from "./colors.js";
import { WHEN_FORMAT, isDateTime, isWhen, parseWhen } from "./dates.js";
import { MARKS } from "./emission.js";
import { PLACE_KEY } from "./locations.js";
import { QUANTITY_PATTERN } from "./quantities.js";
import { show } from "./show.js";

export function createValidator() {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictTuples: false,
                            strictRequired: false });
  ajv.addVocabulary(MARKS);
  ajv.addFormat("date-time", { type: "string", validate: isDateTime });
  ajv.addFormat(COLOR_FORMAT, { type: "string", validate: isColor });
  // a copied date as typed, or already an ISO date-time (a call typed by a person)
  ajv.addFormat(WHEN_FORMAT, { type: "string", validate: (s) => isWhen(s) || isDateTime(s) });
  return ajv;
}

// "/arguments/positions/2/latitude" -> "arguments.positions[2].latitude", under the array/object `prefix`.
function fieldOf(instancePath, data, prefix = "") {
  let out = prefix;
  let node = data;
  for (const raw of instancePath.split("/").slice(1)) {
    const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(node)) out += `[${part}]`;
    else out += out ? `.${part}` : part;
    node = node === null || node === undefined ? undefined : node[part];
  }
  return out;
}

const join = (field, key) => (field ? `${field}.${key}` : key);

// parseWhen's own reason ("there is no day 30 in month 2 of 2024").
function whyNotWhen(text) {
  try {
    parseWhen(text);
    return `${show(text)} is not a date`;
  } catch (e) {
    return e.message;
  }
}

function message(error) {
  const { keyword, params, data } = error;
  switch (keyword) {
    case "required": return `${show(params.missingProperty)} is a required property`;
    case "type": return `${show(data)} is not of type ${String(params.type).split(",").map(show).join(", ")}`;
    case "maximum": return `${show(data)} is greater than the maximum of ${params.limit}`;
    case "minimum": return `${show(data)} is less than the minimum of ${params.limit}`;
    case "exclusiveMaximum": return `${show(data)} is greater than or equal to the maximum of ${params.limit}`;
    case "exclusiveMinimum": return `${show(data)} is less than or equal to the minimum of ${params.limit}`;
    case "enum": return `${show(data)} is not one of ${show(params.allowedValues)}`;
    case "const": return `${show(params.allowedValue)} was expected`;
    case "additionalProperties":
      return error.instancePath === "" && error.schemaPath.startsWith("#/additionalProperties")
        && error.parentSchema.properties && "arguments" in error.parentSchema.properties
        ? "unexpected key (a call has only 'tool' and 'arguments')"
        : `unexpected property ${show(params.additionalProperty)}`;
    case "minLength": return `${show(data)} is too short (at least ${params.limit} characters)`;
    case "maxLength": return `${show(data)} is too long (at most ${params.limit} characters)`;
    case "minItems": return `should have at least ${params.limit} items, has ${data.length}`;
    case "maxItems": return `should have at most ${params.limit} items, has ${data.length}`;
    case "minProperties": return `should have at least ${params.limit} properties`;
    case "format":
      if (params.format === COLOR_FORMAT) return `${show(data)} is not a CSS color name or #RRGGBB`;
      if (params.format === WHEN_FORMAT) return whyNotWhen(data);
      return `${show(data)} is not a ${show(params.format)}`;
    case "pattern":
      if (params.pattern === COLOR_PATTERN) return `${show(data)} is not a CSS color name or #RRGGBB`;
      if (params.pattern === QUANTITY_PATTERN) return `${show(data)} is not a length like '4.4 km' or '500 ft'`;
      return `${show(data)} does not match ${show(params.pattern)}`;
    case "anyOf": return `${show(data)} matches none of the allowed forms`;
    case "anyOfRequired": return `needs at least one of ${params.names.map(show).join(", ")}`;
    case "not": return `${show(data)} should not be valid under ${show(error.schema)}`;
    default: return error.message;
  }
}

// Which branch of an anyOf an output meant, where the emission schema offers two forms: coordinates or
// {"place": NAME}, a number or a quantity string. null where the value does not say.
function meantBranch(data) {
  if (data !== null && typeof data === "object" && !Array.isArray(data)) return PLACE_KEY in data ? 1 : 0;
  if (typeof data === "number") return 0;
  if (typeof data === "string") return 1;
  return null;
}

// ajv's errors as problems: inside an anyOf, only the errors of the branch the value meant (or of the branch that
// got furthest), which reads far better than "matches none of the allowed forms".
function problemsOf(errors, data, prefix) {
  let kept = [...errors];
  const anyOfs = errors.filter((e) => e.keyword === "anyOf").sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const anyOf of anyOfs) {
    if (!kept.includes(anyOf)) continue;
    const inside = (e, k) => e.schemaPath.startsWith(`${anyOf.schemaPath}/${k}/`);
    const branches = anyOf.schema.map((_, k) => kept.filter((e) => inside(e, k)));
    // anyOf [{required: [a]}, {required: [b]}, ...]: "needs at least one of a, b", not "a is required"
    if (branches.every((b) => b.length && b.every((e) => e.keyword === "required" && e.instancePath === anyOf.instancePath))) {
      const names = [...new Set(branches.flat().map((e) => e.params.missingProperty))];
      kept = kept.filter((e) => !e.schemaPath.startsWith(`${anyOf.schemaPath}/`));
      anyOf.keyword = "anyOfRequired";
      anyOf.params = { names };
      continue;
    }
    let chosen = meantBranch(anyOf.data);
    if (chosen === null || chosen >= branches.length || !branches[chosen].length) {
      chosen = branches.reduce((best, b, k) => (b.length && (best < 0 || b.length < branches[best].length) ? k : best), -1);
    }
    if (chosen < 0) continue;
    kept = kept.filter((e) => e !== anyOf && (!e.schemaPath.startsWith(`${anyOf.schemaPath}/`) || inside(e, chosen)));
  }
  const problems = kept.map((e) => {
    let field = fieldOf(e.instancePath, data, prefix);
    if (e.keyword === "required") field = join(field, e.params.missingProperty);
    if (e.keyword === "additionalProperties") field = join(field, e.params.additionalProperty);
    return { field, message: message(e) };
  });
  const seen = new Set();
  return problems.filter((p) => !seen.has(`${p.field}\u0000${p.message}`) && seen.add(`${p.field}\u0000${p.message}`));
}

// Problems of `value` against a compiled ajv validator; fields are written under `prefix` ("arguments").
export function problems(validator, value, prefix = "") {
  if (validator(value)) return [];
  return problemsOf(validator.errors, value, prefix);
}
