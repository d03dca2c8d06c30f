// The emission schema: what the model may write for a domain's tools, and the marks a tool schema may carry.
//
// A tool schema (JSON Schema of one tool's arguments) describes the executed call: numbers for coordinates and
// lengths, ISO 8601 for times. What a small model writes is easier: an object with longitude+latitude may instead
// hold {"place": NAME} (grounding.js looks it up), a number with "x-unit" may instead be a quantity string ("4.4 km",
// quantities.js), a copied date-time is a date as typed ("noon on May 4 1999", dates.js), and a colour is a pattern
// constrained decoding can follow. copying.js narrows this schema further, per request.
//
// The marks (annotations, not validation keywords):
//   "x-unit": "m"        a length in that unit; the model may write it with any unit (quantities.js)
//   "x-copy": true       a string or number the model copies from the request (copying.js)
//   "x-cues": [...]      words that announce the field, or {word: value} for words that also say its value
//   "x-bare": true       a cued copied string that may also be written without its cue
//   "x-frame": true      a height in metres beside longitude+latitude: grounding fills it to frame a named area
//   "x-direction": {...} on a signed number, words that say its sign ({"in": 1, "out": -1}); with "x-cues" its size;
//                        on a copied number also 0, a word that names it without a sign ("in z"): in an object, a
//                        request that says some fields' words writes only those fields ("left 4 ft and back 2 ft")
//   "x-half": [...]      on a copied number, words that say the request gives twice it ("dia 80" is a radius of 40)
//   "x-label": [...]     on a copied number, words that label it: a number written right after one ("height 40",
//                        "r=10") or right before one ("80 tall", "30 mm radius") is that field's (its direction
//                        words label it too: "up by 12 and forward by 4")
// "x-cues": [words] on an object: it is written only when one of the words is there ("at", "centred", "origin")
// checkToolSchema refuses a mark where it cannot mean anything, naming the field.

import { COLOR_FORMAT, COLOR_PATTERN } from "./colors.js";
import { WHEN_FORMAT } from "./dates.js";
import { COORDINATE_KEYS, PLACE_KEY } from "./locations.js";
import { LENGTH_UNITS, QUANTITY_PATTERN, UNIT_KEY } from "./quantities.js";
import { show } from "./show.js";

export const COPY_KEY = "x-copy";
export const CUES_KEY = "x-cues";
export const BARE_KEY = "x-bare";  // on a cued copied string: it may also be written without a cue
export const GAP = "...";  // in a cue of a copied string, where the string is written: "the ... is a"
export const PLACE_COPY = "place";  // the x-copy of a {"place": NAME}: a span the gazetteer knows, when there is one
export const FRAME_KEY = "x-frame";  // grounding.js frames an area the model names with this height
export const DIRECTION_KEY = "x-direction";  // copying.js reads a signed number's sign from these words
export const HALF_KEY = "x-half";  // copying.js halves a copied number when the request says one of these words
export const LABEL_KEY = "x-label";  // copying.js: the numbers these words label are the field's
export const MARKS = [UNIT_KEY, COPY_KEY, CUES_KEY, BARE_KEY, FRAME_KEY, DIRECTION_KEY, HALF_KEY, LABEL_KEY];

const isObject = (node) => node !== null && typeof node === "object" && !Array.isArray(node);
const without = (node, keys) => Object.fromEntries(Object.entries(node).filter(([k]) => !keys.includes(k)));

// The emission form of one tool schema node (see the top of this file).
export function emissionForm(schema) {
  if (!isObject(schema)) return schema;
  if (schema.format === COLOR_FORMAT) return { ...without(schema, ["format"]), pattern: COLOR_PATTERN };
  if (schema.format === "date-time" && schema[COPY_KEY] === true) return { ...schema, format: WHEN_FORMAT };
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, isObject(v) ? emissionForm(v) : v]));
  if (isObject(schema.properties)) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, emissionForm(v)]));
  }
  if (UNIT_KEY in schema) {  // its cues announce, and its copy marks copy, the number in either form
    const moved = [CUES_KEY, COPY_KEY, DIRECTION_KEY, HALF_KEY, LABEL_KEY];
    const number = without(out, moved);
    const marks = Object.fromEntries(moved.filter((k) => k in schema).map((k) => [k, schema[k]]));
    return { anyOf: [number, { type: "string", pattern: QUANTITY_PATTERN }], ...marks };
  }
  const props = isObject(schema.properties) ? schema.properties : {};
  if (Array.isArray(schema.anyOf) && schema.anyOf.length && isObject(schema.properties) &&
      schema.anyOf.every((b) => isObject(b) && Object.keys(b).join() === "required")) {
    // "at least one of dx, dy, dz" as one whole object per branch: xgrammar reads a branch that is only
    // {"required": [...]} as any object at all, and a move came out as {"dz": "40}}user{"}
    const whole = without(out, ["anyOf"]);
    return { anyOf: schema.anyOf.map((b) => ({ ...whole, required: [...new Set([...(whole.required || []), ...b.required])] })) };
  }
  if (schema.type === "object" && COORDINATE_KEYS.every((k) => k in props)) {
    const withPlace = {
      ...out,
      properties: { [PLACE_KEY]: { type: "string", minLength: 1, maxLength: 80, [COPY_KEY]: PLACE_COPY },
                    ...without(out.properties, COORDINATE_KEYS) },
      required: [PLACE_KEY, ...(schema.required || []).filter((k) => !COORDINATE_KEYS.includes(k))],
    };
    return { anyOf: [out, withPlace] };
  }
  return out;
}

// The emission schema of a domain's tools ({name: {parameters}}): one branch per tool, in the tools' order.
export function emissionSchema(tools) {
  return {
    anyOf: Object.entries(tools).map(([name, tool]) => ({
      type: "object",
      properties: { tool: { const: name }, arguments: emissionForm(tool.parameters) },
      required: ["tool", "arguments"],
      additionalProperties: false,
    })),
  };
}

// [field path, node] for every node of a tool schema that holds `key`.
function* marked(schema, path, key) {
  if (!isObject(schema)) return;
  if (key in schema) yield [path, schema];
  for (const [name, sub] of Object.entries(isObject(schema.properties) ? schema.properties : {})) {
    yield* marked(sub, `${path}.properties.${name}`, key);
  }
  if ("items" in schema) yield* marked(schema.items, `${path}.items`, key);
}

// x-cues is a list of words on a number, an enum or a copied string, or {word: value} on a number (numbers, or null
// for a word that announces a number without saying it) or an enum (its values); only a copied string's cues may
// have a gap ("the ... is a"), one, next to words.
function cuesFit(node) {
  const cues = node[CUES_KEY];
  if (!(Array.isArray(cues) || isObject(cues))) return false;
  const words = Array.isArray(cues) ? cues : Object.keys(cues);
  if (!words.every((c) => typeof c === "string" && c.trim())) return false;
  const split = (c) => c.split(/\s+/).filter((w) => w);
  const gapped = words.map(split).filter((w) => w.includes(GAP));
  if (gapped.length && !(Array.isArray(cues) && node[COPY_KEY] === true && node.type === "string"
      && gapped.every((w) => w.filter((x) => x === GAP).length === 1 && w.length >= 2))) return false;
  if (Array.isArray(cues)) return ["number", "object"].includes(node.type) || node[COPY_KEY] === true || "enum" in node;
  if ("enum" in node) return Object.values(cues).every((v) => node.enum.includes(v));
  return node.type === "number" && Object.values(cues).every((v) => v === null || (typeof v === "number"));
}


// Every misplaced mark in one tool's parameters schema, as {field, message}; [] when the marks are sound.
export function checkToolSchema(parameters) {
  const problems = [];
  const add = (field, message) => problems.push({ field, message });
  for (const [field, node] of marked(parameters, "parameters", UNIT_KEY)) {
    if (!Object.hasOwn(LENGTH_UNITS, node[UNIT_KEY])) {
      add(`${field}.${UNIT_KEY}`, `is ${show(node[UNIT_KEY])}; known units: ${Object.keys(LENGTH_UNITS).join(", ")}`);
    }
  }
  for (const [field, node] of marked(parameters, "parameters", COPY_KEY)) {
    if (node[COPY_KEY] !== true || !["string", "number"].includes(node.type)) {
      add(`${field}.${COPY_KEY}`, `is ${show(node[COPY_KEY])}; it marks a string or number copied from the request ` +
        "and can only be true on a schema of type string or number");
    }
  }
  for (const [field, node] of marked(parameters, "parameters", FRAME_KEY)) {
    if (node[FRAME_KEY] !== true || node.type !== "number" || node[UNIT_KEY] !== "m") {
      add(`${field}.${FRAME_KEY}`, `is ${show(node[FRAME_KEY])}; it marks the camera height (a number with ` +
        `${UNIT_KEY} "m", beside longitude and latitude) that frames an area, and can only be true`);
    }
  }
  for (const [field, node] of marked(parameters, "parameters", CUES_KEY)) {
    if (!cuesFit(node)) {
      add(`${field}.${CUES_KEY}`, `is ${show(node[CUES_KEY])}; it lists the words that announce a number, an enum ` +
        `or a copied string (${COPY_KEY}): a list of non-empty strings, or for a number or an enum an object of ` +
        `words and the values they mean; a copied string's cue may hold one gap ${show(GAP)} where the string is ` +
        "written");
    }
  }
  for (const [field, node] of marked(parameters, "parameters", DIRECTION_KEY)) {
    const words = node[DIRECTION_KEY];
    const signs = node[COPY_KEY] === true ? [1, -1, 0] : [1, -1];
    if (node.type !== "number" || !isObject(words) || !Object.keys(words).length ||
        !Object.entries(words).every(([w, v]) => w.trim() && signs.includes(v))) {
      add(`${field}.${DIRECTION_KEY}`, `is ${show(words)}; it maps words to the sign they give a number ` +
        `({"in": 1, "out": -1}; 0, a word that names a copied number without a sign), on a schema of type number`);
    }
  }
  for (const [field, node] of marked(parameters, "parameters", LABEL_KEY)) {
    const words = node[LABEL_KEY];
    if (node.type !== "number" || node[COPY_KEY] !== true || !Array.isArray(words) || !words.length ||
        !words.every((w) => typeof w === "string" && /^[a-z\u2300]+(?:[ -][a-z]+)*$/.test(w))) {
      add(`${field}.${LABEL_KEY}`, `is ${show(words)}; it lists the lower-case words that label a copied number ` +
        `(["height", "tall", "h"]), on a number with ${COPY_KEY}: true`);
    }
  }
  for (const [field, node] of marked(parameters, "parameters", HALF_KEY)) {
    const words = node[HALF_KEY];
    if (node.type !== "number" || node[COPY_KEY] !== true || !Array.isArray(words) || !words.length ||
        !words.every((w) => typeof w === "string" && w.trim())) {
      add(`${field}.${HALF_KEY}`, `is ${show(words)}; it lists the words that say a request gives twice a copied ` +
        `number (["diameter", "across"] on a radius), on a number with ${COPY_KEY}: true`);
    }
  }
  for (const [field, node] of marked(parameters, "parameters", BARE_KEY)) {
    if (node[BARE_KEY] !== true || node[COPY_KEY] !== true || !Array.isArray(node[CUES_KEY])) {
      add(`${field}.${BARE_KEY}`, `is ${show(node[BARE_KEY])}; it can only be true, on a copied string ` +
        `(${COPY_KEY}: true) whose ${CUES_KEY} lists the words that announce it`);
    }
  }
  return problems;
}
