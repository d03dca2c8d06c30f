// The rulebook (web/static/rules/) served to Python over JSON lines: one request per line on stdin, one reply per line
// on stdout, in order. webslm/rulebook.py starts this process once and keeps it.
//
//   {"id": 1, "op": "domain", "key": K, "tools": {name: {parameters}}, "gazetteer": PATH|null}
//        -> {"id": 1, "result": {"emission_schema": ..., "tool_problems": [...]}}
//   {"id": 2, "op": "narrow", "key": K, "requests": [...]}                 -> one emission schema per request
//   {"id": 3, "op": "execute", "key": K, "answers": [[text, request], ...]} -> one outcome per answer
//   {"id": 4, "op": "ground" | "check_call" | "check_emission" | "check_record", "key": K, "items": [...]}
//   {"id": 5, "op": "resolve", "key": K, "names": [...]}                   -> a place or null per name
//        ("gazetteer": PATH instead of "key": a gazetteer file on its own, e.g. one being built)
//   {"id": 6, "op": "call", "module": "dates", "function": "parseWhen", "args": [...]}  (pure functions only)
//   {"id": 7, "op": "constant", "module": "colors", "name": "CSS_COLOR_NAMES"}
// A failure is {"id": N, "error": MESSAGE, "kind": "rule" | "request"}: "rule" when a rule refused its input (a
// date it cannot read), "request" when the request itself is wrong. The process never exits on a bad request.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

import * as colors from "../web/static/rules/colors.js";
import * as copying from "../web/static/rules/copying.js";
import * as dates from "../web/static/rules/dates.js";
import * as emission from "../web/static/rules/emission.js";
import * as grounding from "../web/static/rules/grounding.js";
import * as locations from "../web/static/rules/locations.js";
import * as quantities from "../web/static/rules/quantities.js";
import * as spelling from "../web/static/rules/spelling.js";
import { Rulebook, parseAnswer } from "../web/static/rules/rulebook.js";

const MODULES = { colors, copying, dates, emission, grounding, locations, quantities, spelling,
                  rulebook: { parseAnswer } };
const rulebooks = new Map();  // key -> Rulebook
const gazetteers = new Map();  // path -> Gazetteer

class RequestError extends Error {}

function gazetteerAt(path) {
  if (!gazetteers.has(path)) {
    let data;
    try {
      data = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new RequestError(`cannot read the gazetteer ${path}: ${e.message}`);
    }
    gazetteers.set(path, new grounding.Gazetteer(data));
  }
  return gazetteers.get(path);
}

function rulebookFor(key) {
  const rules = rulebooks.get(key);
  if (!rules) throw new RequestError(`no domain registered as ${JSON.stringify(key)}`);
  return rules;
}

const place = (p) => (p ? { name: p.name, kind: p.kind, country: p.country, longitude: p.longitude,
                             latitude: p.latitude, population: p.population, bbox: p.bbox } : null);

const OPS = {
  domain({ key, tools, gazetteer }) {
    const rules = new Rulebook({ tools, gazetteer: gazetteer ? gazetteerAt(gazetteer) : null });
    rulebooks.set(key, rules);
    return { emission_schema: rules.emissionSchema, tool_problems: rules.toolProblems };
  },
  narrow: ({ key, requests }) => requests.map((request) => rulebookFor(key).narrow(request)),
  execute: ({ key, answers }) => answers.map(([answer, request]) => rulebookFor(key).execute(answer, request ?? null)),
  ground: ({ key, items }) => items.map(([output, request]) => rulebookFor(key).ground(output, request ?? null)),
  check_call: ({ key, items }) => items.map((call) => rulebookFor(key).checkCall(call)),
  check_emission: ({ key, items }) => items.map((output) => rulebookFor(key).checkEmission(output)),
  check_record: ({ key, items }) => items.map((output) => rulebookFor(key).checkRecordOutput(output)),
  resolve({ key, gazetteer, names, request }) {
    const gaz = gazetteer ? gazetteerAt(gazetteer) : rulebookFor(key).gazetteer;
    if (!gaz) throw new RequestError(`domain ${JSON.stringify(key)} has no gazetteer`);
    return names.map((name) => place(request === undefined ? gaz.resolve(name) : gaz.resolveCopied(name, request)));
  },
  call({ module, function: name, args }) {
    const fn = Object.hasOwn(MODULES, module) && Object.hasOwn(MODULES[module], name) ? MODULES[module][name] : null;
    if (typeof fn !== "function" || /^[A-Z]/.test(name)) {
      throw new RequestError(`the rulebook has no function ${module}.${name}`);
    }
    try {
      return fn(...(args || []));
    } catch (e) {
      e.rule = true;
      throw e;
    }
  },
  constant({ module, name }) {
    const value = Object.hasOwn(MODULES, module) && Object.hasOwn(MODULES[module], name) ? MODULES[module][name] : undefined;
    if (value === undefined || typeof value === "function") throw new RequestError(`the rulebook has no constant ${module}.${name}`);
    return value instanceof RegExp ? value.source : value;
  },
};

// Sets and Maps as lists, so every result is plain JSON.
const replacer = (_key, value) => (value instanceof Set ? [...value] : value instanceof Map ? Object.fromEntries(value) : value);

function reply(line) {
  let id = null;
  try {
    const request = JSON.parse(line);
    id = request.id ?? null;
    if (!Object.hasOwn(OPS, request.op)) throw new RequestError(`unknown op ${JSON.stringify(request.op)}`);
    return JSON.stringify({ id, result: OPS[request.op](request) ?? null }, replacer);
  } catch (e) {
    const kind = e.rule ? "rule" : "request";
    const message = e instanceof RequestError || e.rule ? e.message : `${e.message}\n${e.stack}`;
    return JSON.stringify({ id, error: message, kind });
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (line.trim()) process.stdout.write(reply(line) + "\n");
});
