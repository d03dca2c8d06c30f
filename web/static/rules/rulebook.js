// The rulebook: everything between a user's request and an executed tool call, in one place. The demo page, its Web
// Worker and Python (through webslm/rulebook.py, one long-lived Node process) all use this file and nothing else:
//
//   const rules = new Rulebook({ tools, gazetteer });         // a domain's tool schemas, its gazetteer (or null)
//   rules.narrow("fly to Paris")       -> the emission schema for this request (constrained decoding's grammar)
//   rules.execute(answerText, request) -> { parsed, call, stage, reason, problems }
//
// `execute` decides whether an answer runs. Stages, in order, each a reason to refuse: "json" (not one JSON value,
// or a key that could change what an object inherits), "schema" (not what the emission schema allows), "grounding"
// (an unknown place, an unreadable quantity or date), "contract" (the grounded call breaks its tool's JSON Schema);
// "ok" means `call` may be executed. No DOM here: these modules run in a page, a worker and Node alike.

import { emissionSchema, checkToolSchema } from "./emission.js";
import { forRequest } from "./copying.js";
import { Gazetteer, groundCall } from "./grounding.js";
import { show } from "./show.js";
import { createValidator, problems as problemsOf } from "./validate.js";

// Keys that, written into a plain object, change its prototype or shadow what every object inherits.
export const FORBIDDEN_KEYS = ["__proto__", "constructor", "prototype"];

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const where = (path, key) => (Array.isArray(key) ? `${path}[${key[0]}]` : path ? `${path}.${key}` : key);

// The first forbidden key in a parsed JSON value, as a field path ("arguments.__proto__"), or null.
function forbiddenKey(value, path = "") {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = forbiddenKey(value[i], where(path, [i]));
      if (found) return found;
    }
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.includes(key)) return where(path, key);
      const found = forbiddenKey(value[key], where(path, key));
      if (found) return found;
    }
  }
  return null;
}

// A copy of a parsed JSON value whose objects inherit nothing (Object.create(null)).
function detached(value) {
  if (Array.isArray(value)) return value.map(detached);
  if (!isObject(value)) return value;
  const out = Object.create(null);
  for (const key of Object.keys(value)) out[key] = detached(value[key]);
  return out;
}

// The JSON value a model (or a person) wrote: surrounding spaces and a ```json fence are tolerated, anything else
// is not. {value} or {error}. JSON.parse refuses NaN and Infinity, so nothing Python's json would read laxly passes.
export function parseAnswer(text) {
  let body = String(text ?? "").trim();
  if (body.startsWith("```")) {
    const newline = body.indexOf("\n");
    body = newline >= 0 ? body.slice(newline + 1) : "";
    const fence = body.lastIndexOf("```");
    body = (fence >= 0 ? body.slice(0, fence) : body).trim();
  }
  let value;
  try {
    value = JSON.parse(body);
  } catch (e) {
    const after = /after JSON at position (\d+)/.exec(e.message);  // V8's words for text after a complete value
    return { error: after ? `extra text after the JSON value at column ${Number(after[1]) + 1}` : `not valid JSON: ${e.message}` };
  }
  return { value };
}

// A value that came from outside (parsed text, or an object a caller built): refused when it holds a forbidden key,
// else a copy that inherits nothing. {value} or {error, field}.
export function sanitize(value) {
  const field = forbiddenKey(value);
  if (field !== null) {
    const key = field.split(".").pop();
    return { field, error: `the key ${show(key)} is refused: written into an object it changes what the object ` +
      "inherits, so a call could carry values no schema checked" };
  }
  return { value: detached(value) };
}

const text = (problems, n = 3) => problems.slice(0, n).map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join("; ");

export class Rulebook {
  // tools: {name: {parameters, description?}}; gazetteer: a Gazetteer, its file's content, or null (no places).
  constructor({ tools, gazetteer = null }) {
    if (!isObject(tools) || !Object.keys(tools).length) throw new Error("a rulebook needs the domain's tools: {name: {parameters}}");
    this.tools = tools;
    this.gazetteer = gazetteer === null || gazetteer instanceof Gazetteer ? gazetteer : new Gazetteer(gazetteer);
    this.toolProblems = Object.entries(tools).flatMap(([name, tool]) =>
      checkToolSchema(tool.parameters).map((p) => ({ ...p, tool: name })));
    this.emissionSchema = emissionSchema(tools);
    const ajv = createValidator();
    const compile = (name, schema) => {
      try {
        return ajv.compile(schema);
      } catch (e) {
        throw new Error(`tool ${name}: its schema does not compile: ${e.message}`);
      }
    };
    this.callValidators = new Map(Object.entries(tools).map(([name, tool]) => [name, compile(name, tool.parameters)]));
    this.emissionValidators = new Map(this.emissionSchema.anyOf.map((branch) => [branch.properties.tool.const,
                                                                              compile(branch.properties.tool.const, branch)]));
    const gaz = this.gazetteer;
    this.isPlace = gaz ? (name) => gaz.resolve(name) !== null : null;
  }

  // The emission schema narrowed to what `request` can mean (copying.js).
  narrow(request) {
    return forRequest(this.emissionSchema, request, this.isPlace);
  }

  // Every way `call` breaks the executed-call contract {"tool": NAME, "arguments": {...}}, as {field, message}.
  checkCall(call) {
    if (!isObject(call)) return [{ field: "", message: `a call must be a JSON object, got ${Array.isArray(call) ? "list" : call === null ? "null" : typeof call}` }];
    const problems = Object.keys(call).filter((k) => k !== "tool" && k !== "arguments")
      .map((k) => ({ field: k, message: "unexpected key (a call has only 'tool' and 'arguments')" }));
    const tool = call.tool;
    if (typeof tool !== "string" || !this.callValidators.has(tool)) {
      return problems.concat([{ field: "tool", message: `unknown tool ${show(tool ?? null)}; known tools: ${Object.keys(this.tools).join(", ")}` }]);
    }
    if (!isObject(call.arguments)) return problems.concat([{ field: "arguments", message: "missing or not an object" }]);
    return problems.concat(problemsOf(this.callValidators.get(tool), call.arguments, "arguments"));
  }

  // Problems of a model's output against the emission schema, reported against its tool's own branch.
  checkEmission(output) {
    const validator = isObject(output) && typeof output.tool === "string" ? this.emissionValidators.get(output.tool) : null;
    if (!validator) {
      const problems = this.checkCall(output);
      return problems.length ? problems : [{ field: "", message: "does not match the output contract" }];
    }
    return problemsOf(validator, output);
  }

  // The executed call for an output: places, quantities, dates and colours grounded (grounding.js). {call, problems}
  ground(output, request = null) {
    return groundCall(output, this.tools, this.gazetteer, request);
  }

  // Whether a model's answer to `request` executes, and as which call. Never throws.
  execute(answer, request = null) {
    let parsed = answer;
    if (typeof answer === "string") {
      const read = parseAnswer(answer);
      if (read.error) return { parsed: null, call: null, stage: "json", reason: read.error, problems: [{ field: "", message: read.error }] };
      parsed = read.value;
    }
    const safe = sanitize(parsed);
    if (safe.error) {
      const problems = [{ field: safe.field, message: safe.error }];
      return { parsed: null, call: null, stage: "json", reason: text(problems), problems };
    }
    parsed = safe.value;
    const refuse = (stage, problems) => ({ parsed, call: null, stage, reason: text(problems), problems });
    let problems = this.checkEmission(parsed);
    if (problems.length) return refuse("schema", problems);
    const grounded = this.ground(parsed, request);
    if (grounded.problems.length) return refuse("grounding", grounded.problems);
    problems = this.checkCall(grounded.call);
    if (problems.length) return refuse("contract", problems);
    return { parsed, call: grounded.call, stage: "ok", reason: null, problems: [] };
  }

  // Problems of one call as a dataset record writes it (model form), for `webslm data verify`: the grounded call
  // against its tool schema names the exact field and rule, which the emission schema's two-way anyOfs cannot.
  checkRecordOutput(output) {
    const safe = sanitize(output);
    if (safe.error) return [{ field: safe.field, message: safe.error }];
    const { call, problems } = this.ground(safe.value);
    if (!this.checkEmission(safe.value).length) return problems.length ? problems : this.checkCall(call);
    const precise = problems.concat(this.checkCall(call));
    return precise.length ? precise : this.checkEmission(safe.value);
  }
}
