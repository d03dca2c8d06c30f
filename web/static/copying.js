// Arguments the model copies from the request, as webslm/copying.py: a string schema marked "x-copy" (and every
// {"place": NAME}) may only be a run of the request's words, a colour only one the request names.
// tests/test_web_grounding.py checks both sides agree.

import { COLOR_PATTERN, CSS_COLOR_NAMES } from "./colors.js";

export const COPY_KEY = "x-copy";
export const MAX_SPAN_WORDS = 6;

const EDGES = "\\s\"'`.,;:!?()[\\]{}<>\u201c\u201d\u2018\u2019";
const EDGES_BUT_APOSTROPHES = "\\s\"`.,;:!?()[\\]{}<>\u201c\u201d";  // apostrophes also start or end some names
const stripper = (chars) => new RegExp(`^[${chars}]+|[${chars}]+$`, "g");
const SPAN_EDGES = stripper(EDGES);
const SPAN_EDGES_BUT_APOSTROPHES = stripper(EDGES_BUT_APOSTROPHES);

// Every run of 1 to maxWords words of `text`, in order of appearance, without repeats, punctuation at its ends
// stripped (and kept both ways when it is an apostrophe).
export function requestSpans(text, maxWords = MAX_SPAN_WORDS) {
  const words = String(text).split(/\s+/).filter((w) => w);
  const spans = new Set();
  for (let start = 0; start < words.length; start++) {
    for (let end = start + 1; end <= Math.min(words.length, start + maxWords); end++) {
      const run = words.slice(start, end).join(" ");
      const span = run.replace(SPAN_EDGES, "");
      if (span) {
        spans.add(span);
        spans.add(run.replace(SPAN_EDGES_BUT_APOSTROPHES, ""));
      }
    }
  }
  return [...spans];
}

const HEX = /^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$/;

// The colours `request` names: CSS names written as one to three words ("grey" read as "gray"), #hex as typed.
export function colorsNamed(request) {
  const words = String(request).toLowerCase().match(/[a-z]+/g) || [];
  const joined = new Set();
  for (let i = 0; i < words.length; i++) {
    for (let j = i + 1; j <= Math.min(words.length, i + 3); j++) joined.add(words.slice(i, j).join("").replaceAll("grey", "gray"));
  }
  return CSS_COLOR_NAMES.filter((name) => joined.has(name)).concat(requestSpans(request, 1).filter((s) => HEX.test(s)));
}

const UNWRITABLE = Symbol("unwritable");

// `schema` with every copy field limited to the spans of `request` that fit its length bounds (lengths in code
// points, as JSON Schema counts them; a field no span fits keeps its schema), and every colour to the colours the
// request names (an optional colour it names none of is removed).
export function forRequest(schema, request) {
  const spans = requestSpans(request);
  const colors = colorsNamed(request);
  function walk(node) {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== "object") return node;
    if (node[COPY_KEY] === true) {
      const fitting = spans.filter((s) => {
        const length = [...s].length;
        return length >= (node.minLength ?? 0) && length <= (node.maxLength ?? length);
      });
      if (fitting.length) return { enum: fitting };
    }
    if (node.pattern === COLOR_PATTERN) return colors.length ? { enum: colors } : UNWRITABLE;
    const out = {};
    for (const [key, value] of Object.entries(node)) {
      if (key !== "properties") {
        out[key] = walk(value);
        continue;
      }
      const required = new Set(node.required || []);
      out[key] = {};
      for (const [name, sub] of Object.entries(value)) {
        const walked = walk(sub);
        if (walked !== UNWRITABLE) out[key][name] = walked;
        else if (required.has(name)) out[key][name] = sub;
      }
    }
    return out;
  }
  return walk(schema);
}
