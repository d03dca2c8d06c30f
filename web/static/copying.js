// Arguments the model copies from the request, as webslm/copying.py: a string schema marked "x-copy" (and every
// {"place": NAME}) may only be a run of the request's words. tests/test_web_grounding.py checks both agree.

export const COPY_KEY = "x-copy";
export const MAX_SPAN_WORDS = 6;

const EDGE = "[\\s\"'`.,;:!?()[\\]{}<>\u201c\u201d\u2018\u2019]+";
const SPAN_EDGES = new RegExp(`^${EDGE}|${EDGE}$`, "g");

// Every run of 1 to maxWords words of `text`, in order of appearance, without repeats, punctuation at its ends
// stripped.
export function requestSpans(text, maxWords = MAX_SPAN_WORDS) {
  const words = String(text).split(/\s+/).filter((w) => w);
  const spans = new Set();
  for (let start = 0; start < words.length; start++) {
    for (let end = start + 1; end <= Math.min(words.length, start + maxWords); end++) {
      const span = words.slice(start, end).join(" ").replace(SPAN_EDGES, "");
      if (span) spans.add(span);
    }
  }
  return [...spans];
}

// `schema` with every copy field limited to the spans of `request` that fit its length bounds (lengths in code
// points, as JSON Schema counts them). A field no span fits keeps its schema.
export function forRequest(schema, request) {
  const spans = requestSpans(request);
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
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
  }
  return walk(schema);
}
