// What a request can mean: the emission schema narrowed, per request, to arguments the request gives evidence for.
//
// A 135M model copies rare names badly ("Chandler" came out as "Chamberlin"), writes numbers no one typed ("13.8" for
// 13.807, a colour or a width of 1 nobody asked for) and drops what was asked ("named Camp"). forRequest narrows
// the emission schema for one request, and constrained decoding then cannot write what the request gives no
// evidence for:
// - a string marked `"x-copy": true` is a run of up to 6 of the request's words; a {"place": NAME} is such a run
//   that the gazetteer knows ("pin called Hotel at Fuzhou": only "Fuzhou") and that is not inside a cue phrase of
//   two or more words ("show everything in Columbus view": no place);
// - longitude and latitude are a coordinate pair the request writes, as a pair ("9.936N 43.183E": longitude 43.183,
//   latitude 9.936; "(3.5, 12)": either order), when it writes one (locations.js);
// - an array of locations is the request's list, whole and in order, when it writes one ("route: Lima -> Quito ->
//   12N 3W": exactly those three);
// - with `"x-cues": [words]` as well, a run that starts right after a cue ("called HQ", "with the label Site A"): the
//   field is written exactly when the request has a cue (required then, removed otherwise); with `"x-bare": true`
//   too, a request without a cue may still write it as any run of its words ("box 30x40x50 lid"), while a cue still
//   makes it required ("a box ... for the lid"); a cue written with a gap ("the ... is a") gives the run in its gap
//   ("the top plate is a sphere": "top plate");
// - otherwise a number marked `"x-copy": true` (a typed coordinate) is a number the request writes, with the sign
//   it writes ("-", or S/W after it), within the schema's minimum and maximum;
// - a number (or a quantity string) marked `"x-copy": true` and `"x-cues"` is a number the request writes outside
//   coordinate pairs, dates and quantities (either sign the schema allows: "rewind 50x" is -50), a value its cue
//   words say, or a quantity as typed ("h 1,000m"): "7.1 pixels wide" is never 71; a cue word or a quantity with a
//   unit word makes it required, and a cue worth null announces it without saying it ("60 times faster", "100x");
//   a quantity may also be any number written with a unit written after another ("30 by 75 by 4.9 mm": "30 mm"),
//   a number's sign one its `"x-direction"` words say ("lower the shelf by 25mm": "-25mm"; the object then writes
//   only the fields whose words the request says), with `"x-half"` words said, half of it ("dia 80": 40), and
//   with `"x-label"` words (or direction words) that label numbers, only those ("height 40", "80 tall");
// - an object marked `"x-cues"` is written exactly when one of its words is there (a CAD position: "at", "origin");
// - the numbers of the clause a correction takes back are not written ("radius 3, no sorry, radius 4": 4);
// - a request that writes a quantity with a unit word ("ring Cairo r=10 mi") keeps only the alternatives of the
//   schema's top-level anyOf (the tools) that can hold a quantity, when any can;
// - a date-time marked `"x-copy": true` is the request's date as typed ("noon on May 4 1999", the longest span that
//   reads as one date, dates.js): required when the request writes one, removed when not;
// - a colour is one the request names ("dark blue" -> "darkblue", "grey" -> "gray", #hex as typed), required when
//   one is named, removed when none is;
// - any other number (or quantity string, "15 miles") marked `"x-cues"` is written only when the request has a digit
//   or a cue word, and always when it has a cue word ("bold" for a width); cues written as {word: value} also say the
//   number when the request has no digit ("huge" -> 40; "very slowly" is 20, not "slowly"'s 10);
// - an `enum` marked `"x-cues"` is written only when the request has a cue; cues written as {word: value} keep only
//   the values the request's cues say ("top-down map" -> "2D"); a required one left with nothing removes its tool;
// - a field, a required property or an `anyOf` branch left with nothing to write removes its object in turn, and
//   so does an object left with fewer properties than its minProperties or none of its anyOf `required` lists.
// Contract tests: tests/test_copying.py.

import { COLOR_PATTERN, CSS_COLOR_NAMES } from "./colors.js";
import { BARE_KEY, COPY_KEY, CUES_KEY, DIRECTION_KEY, GAP, HALF_KEY, LABEL_KEY, PLACE_COPY } from "./emission.js";
import { LENGTH_UNITS } from "./quantities.js";
import { WHEN_FORMAT, isWhen } from "./dates.js";
import { editDistance } from "./spelling.js";
import {
  COMMON_WORDS, COORDINATE_KEYS, MAX_SPAN_WORDS, SPAN_EDGES, SPAN_EDGES_BUT_APOSTROPHES,
  coordinatePairs, correctedFrom, escapeRegExp, listedLocations, mayNamePlace, overlaps, placeLikeSpans, retracted,
} from "./locations.js";

const MIN_ROUTE = 3;  // a list this long is a route or an area, not one place ("from Lima to Quito" may be a flight)
const TYPO_CUE_LENGTH = 5;
const MAX_DATE_WORDS = 8;  // "the 30th of June 1996 at 7:45am" is 7

// The text of each [start, end] run of `words`, punctuation at its ends stripped (an apostrophe both ways).
function wordRuns(words, runs) {
  const spans = new Set();
  for (const [start, end] of runs) {
    const run = words.slice(start, end).join(" ");
    const span = run.replace(SPAN_EDGES, "");
    if (span) {
      spans.add(span);
      spans.add(run.replace(SPAN_EDGES_BUT_APOSTROPHES, ""));
    }
  }
  return [...spans];
}

function* runsFrom(starts, nWords, maxWords) {
  for (const start of starts) {
    for (let end = start + 1; end <= Math.min(nWords, start + maxWords); end++) yield [start, end];
  }
}

const wordsOf = (text) => String(text).split(/\s+/).filter((w) => w);

// Every run of 1 to maxWords words of `text`, in order of appearance, without repeats, punctuation at its ends
// stripped (and kept both ways when it is an apostrophe).
export function requestSpans(text, maxWords = MAX_SPAN_WORDS) {
  const words = wordsOf(text);
  return wordRuns(words, runsFrom(words.keys(), words.length, maxWords));
}

function isCueWord(word, cueWord) {
  if (word === cueWord) return true;
  const plural = word + "s" === cueWord || cueWord + "s" === word;  // "time" is another word than "times", not a slip
  // a word commands are made of is that word, not a slip of a cue: "with" is not "width"
  if (plural || COMMON_WORDS.has(word)) return false;
  if (cueWord.length >= TYPO_CUE_LENGTH) return editDistance(word, cueWord) <= 1;
  return cueWord.length === 4 && swapsTwoLetters(word, cueWord);  // "Mrak Warsaw", "Paht: from Chile"
}

// Whether `a` is `b` with two neighbouring letters swapped, the first letter kept ("mrak" for "mark").
function swapsTwoLetters(a, b) {
  if (a.length !== b.length || a[0] !== b[0]) return false;
  const differ = [...a].flatMap((c, i) => (c !== b[i] ? [i] : []));
  return differ.length === 2 && differ[1] === differ[0] + 1 && a[differ[0]] === b[differ[1]] && a[differ[1]] === b[differ[0]];
}

const GLUED_X = /^(?:[0-9][0-9.,]*x|x[0-9][0-9.,]*)$/;  // "100x", "x100": the cue "x" written onto its number

const cueWordsOf = (text) => wordsOf(text).map((w) => w.replace(SPAN_EDGES, "").toLowerCase())
  .map((w) => GLUED_X.test(w) ? "x" : w);
const matchesAt = (words, i, cueWords) => i + cueWords.length <= words.length
  && cueWords.every((c, k) => isCueWord(words[i + k], c));

// [first word, word after the cue, cue] for each occurrence of a cue (a cue word of 5+ letters also with one slip;
// "x" also written onto a number); cues with a gap are gapSpans's.
export function cueMatches(text, cues) {
  const words = cueWordsOf(text);
  const matches = [];
  for (const cue of Array.isArray(cues) ? cues : Object.keys(cues)) {
    const cueWords = cue.toLowerCase().split(/\s+/).filter((w) => w);
    if (cueWords.includes(GAP)) continue;
    for (let i = 0; i < words.length; i++) {
      if (matchesAt(words, i, cueWords)) matches.push([i, i + cueWords.length, cue]);
    }
  }
  return matches;
}

// The runs of 1 to maxWords words that fill the gap of a cue written with one ("the ... is a": "the top plate is a
// sphere" gives "top plate").
export function gapSpans(text, cues, maxWords = MAX_SPAN_WORDS) {
  const words = cueWordsOf(text);
  const runs = [];
  for (const cue of cues) {
    const cueWords = cue.toLowerCase().split(/\s+/).filter((w) => w);
    const gap = cueWords.indexOf(GAP);
    if (gap < 0) continue;
    const [before, after] = [cueWords.slice(0, gap), cueWords.slice(gap + 1)];
    for (let i = 0; i < words.length; i++) {
      if (!matchesAt(words, i, before)) continue;
      const start = i + before.length;
      for (let end = start + 1; end <= Math.min(words.length, start + maxWords); end++) {
        if (matchesAt(words, end, after)) runs.push([start, end]);
      }
    }
  }
  return wordRuns(wordsOf(text), runs);
}

// The values of the cues matched (cueMatches), a cue inside a longer one left out ("very slowly" is not "slowly").
export function cueValues(matches, cues) {
  const values = new Set();
  for (const [start, end, cue] of matches) {
    const inLonger = matches.some(([s, e]) => (s !== start || e !== end) && s <= start && end <= e);
    if (cues[cue] !== null && !inLonger) values.add(cues[cue]);
  }
  return [...values];
}

// The spans of `text` that start right after a cue matched (cueMatches), a cue inside a longer one left out ("label
// it Home" is "Home", not "it Home").
export function spansAfterCues(text, matches, maxWords = MAX_SPAN_WORDS) {
  const outer = matches.filter(([start, end]) => !matches.some(([s, e]) => (s !== start || e !== end) && s <= start && end <= e));
  const ends = [...new Set(outer.map(([, end]) => end))].sort((a, b) => a - b);
  const words = wordsOf(text);
  return wordRuns(words, runsFrom(ends, words.length, maxWords));
}

const HEMISPHERE = "(?:n|s|e|w|north|south|east|west)";
const SIGNED_NUMBER = new RegExp(
  `(?:(?<![a-z])(?<prefix>${HEMISPHERE}) *)?(?<minus>[-\u2212])?(?<digits>[0-9]+(?:\\.[0-9]+)?)` +
  `(?: *°)?(?: *degrees?)?(?: *(?<suffix>${HEMISPHERE})(?![a-z]))?`, "gi");

// The numbers `text` writes, with the sign it writes .
export function numbersWritten(text, taken = []) {
  const out = new Set();
  for (const m of String(text).matchAll(SIGNED_NUMBER)) {
    if (overlaps(m.index, m.index + m[0].length, taken)) continue;
    const { prefix, minus, digits, suffix } = m.groups;
    const hemisphere = (suffix ?? "").toLowerCase().slice(0, 1);
    let signs;
    if (hemisphere) signs = "sw".includes(hemisphere) ? [-1] : [1];
    else if (minus) signs = [-1];
    else signs = prefix ? [1, -1] : [1];
    for (const sign of signs) out.add(sign * Number(digits));
  }
  return [...out];
}

// A number as written ("-3", "7.1", "20,700"), not one inside a name or a colour ("box1", "#2410CC"); "x100" is one,
// and so is each of a product's ("30x40x50", "93*2.1*75cm") and of a list's ("(-110,100,0)" is not -110100).
const PLAIN_NUMBER = new RegExp(
  "(?:(?<![A-Za-z0-9_.#])|(?<=(?<![A-Za-z0-9_#])x)|(?<=[0-9] ?[xX\u00d7] ?))(?<minus>[-\u2212])?" +
  "(?<digits>(?<![(\\[,][-\u2212]?)[0-9]{1,3}(?:,[0-9]{3})+(?:\\.[0-9]+)?|[0-9]+(?:\\.[0-9]+)?)(?![0-9])", "g");

// {value, text} for each number `text` writes outside the [start, end) ranges `taken`, text as typed ("-16,000").
export function numbersAsWritten(text, taken) {
  const out = [];
  for (const m of String(text).matchAll(PLAIN_NUMBER)) {
    if (overlaps(m.index, m.index + m[0].length, taken)) continue;
    const value = Number(m.groups.digits.replaceAll(",", ""));
    const unit = UNIT_AFTER.exec(String(text).slice(m.index + m[0].length));  // its own, a bracket between or not
    out.push({ value: m.groups.minus ? -value : value, text: (m.groups.minus ? "-" : "") + m.groups.digits,
               start: m.index, end: m.index + m[0].length, unit: unit ? unit[1] + unit[2] : null });
  }
  return out;
}

// Words and numbers of a request with where they start and end, for labels ("r=10" is "r" then "10"; "-z 5" is
// "-z", "5").
const LABEL_TOKEN = /[-+\u2212]?[A-Za-z\u2300]+(?:-[A-Za-z]+)*|[-\u2212]?[0-9][0-9,]*(?:\.[0-9]+)?|["']/g;
const LABEL_FILLERS = new Set(["by", "of", "is", "about"]);  // "radius of 7 cm", "up by 12"
const LEADING_FILLERS = new Set(["along", "in"]);  // "199.0mm along -x", "5 mm in z"
// words of extent follow their number and never lead one: "8 cm wide 4 cm deep" is 8 wide and 4 deep
const EXTENT_WORDS = new Set(["wide", "deep", "high", "tall", "long", "thick", "across"]);
const UNIT_WORDS = new Set([...Object.values(LENGTH_UNITS).flatMap(([, names]) => names), "deg", "degree", "degrees"]);

export const labelTokens = (text) => [...String(text).matchAll(LABEL_TOKEN)].map((m) => ({
  lower: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length, number: /[0-9]/.test(m[0]) }));

// The starts of the numbers `text` labels with one of `labels` ([phrase, sign]), with the label's sign: a number
// right after the label (fillers like "by", "of" between: "height 40", "r=10", "up by 12") or right before it, its
// unit and "along" or "in" between ("80 tall", "30 mm radius", "1 foot to the right", "199.0mm along -x"). A
// one-letter label only labels the number after it, a word of extent only the number before it ("8 cm wide 4 cm
// deep"), and "x" only where it does not stand between two numbers ("3 x 4 x 1 inches at x 0"); a number right
// after one of the `others` (every one-word label of the schema) is that label's, not the next one's. `tokens`:
// labelTokens(text), for a caller that asks about one text many times.
export function labelledStarts(text, labels, others = [], tokens = labelTokens(text)) {
  text = String(text);
  const joined = (a, b) => !/[,;]/.test(text.slice(tokens[a].end, tokens[b].start));  // "50 deep, 20 high"
  const found = [];
  for (const [phrase, sign] of labels) {
    const parts = phrase.toLowerCase().split(/\s+/);
    const single = parts.length === 1 && parts[0].length === 1;
    for (let i = 0; i + parts.length <= tokens.length; i++) {
      if (!parts.every((p, k) => isCueWord(tokens[i + k].lower, p))) continue;
      let j = i + parts.length;
      while (j < tokens.length && LABEL_FILLERS.has(tokens[j].lower)) j++;
      const before = tokens[i - 1];
      const between = parts[0] === "x" && before && (before.number || UNIT_WORDS.has(before.lower));
      const last = i + parts.length - 1;
      const leads = !(parts.length === 1 && EXTENT_WORDS.has(parts[0]));
      if (leads && !between && j < tokens.length && tokens[j].number && joined(last, j)) found.push([tokens[j].start, sign]);
      if (single) continue;
      let k = i - 1;
      if (k >= 0 && LEADING_FILLERS.has(tokens[k].lower)) k--;
      if (k >= 0 && UNIT_WORDS.has(tokens[k].lower)) k--;
      const after = k > 0 && joined(k - 1, k) && !EXTENT_WORDS.has(tokens[k - 1].lower) &&
        others.some((w) => isCueWord(tokens[k - 1].lower, w));  // "depth 0.3 m height 0.8 m"
      if (k >= 0 && tokens[k].number && joined(k, i) && !after) found.push([tokens[k].start, sign]);
    }
  }
  return found;
}

// The numbers `text` writes outside the [start, end) ranges `taken`.
export function freeNumbers(text, taken) {
  return [...new Set(numbersAsWritten(text, taken).map((n) => n.value))];
}

// A unit after a number, separator included: (separator)(unit word).
const UNIT_WORD = `( ?-?)([A-Za-z]+|["'])(?![A-Za-z0-9])`;
const UNIT_AFTER = new RegExp(`^[)\\]]?${UNIT_WORD}`);

// What follows a number as its unit, separator included ("5 mm" -> " mm", "15-mile" -> "-mile", '16"' -> '"'):
// "30 by 75 by 4.9 mm" gives every number its unit, so "30 mm" is written too; so does "(7, -0.6, 3)cm".
export function unitsAfterNumbers(text) {
  return [...new Set([...String(text).matchAll(new RegExp(`(?<=[0-9][)\\]]?)${UNIT_WORD}`, "g"))]
    .map((m) => m[1] + m[2]))];
}

// [start, end, quantity] for each quantity `text` writes that the anchored `pattern` reads ("r=20km" -> "20km").
export function quantitiesWritten(text, pattern) {
  const core = pattern.replace(/^\^/, "").replace(/\$$/, "");
  const re = new RegExp(`(?<![A-Za-z0-9_.,#-])(?:${core})(?![A-Za-z0-9])`, "g");
  return [...String(text).matchAll(re)].map((m) => [m.index, m.index + m[0].length, m[0]]);
}

const isNumeric = (node) => node.type === "number" || (node.anyOf || []).some((form) => form.type === "number");

// Every object in a schema, depth first.
function* nodes(node) {
  if (Array.isArray(node)) for (const v of node) yield* nodes(v);
  else if (isObject(node)) {
    yield node;
    for (const v of Object.values(node)) yield* nodes(v);
  }
}

// The patterns of the quantity strings in `schema` (the string form of a number with a unit).
const quantityPatterns = (schema) => [...new Set([...nodes(schema)].filter(isNumeric)
  .flatMap((node) => (node.anyOf || []).filter((form) => "pattern" in form).map((form) => form.pattern)))];

// The cues of two or more words in `schema` ("Columbus view", "very slowly").
const cuePhrases = (schema) => [...new Set([...nodes(schema)].filter((node) => isObject(node[CUES_KEY]))
  .flatMap((node) => Array.isArray(node[CUES_KEY]) ? node[CUES_KEY] : Object.keys(node[CUES_KEY]))
  .filter((cue) => wordsOf(cue).length >= 2))];

// Whether `span` is a run of words of one of `phrases`.
function within(span, phrases) {
  const run = wordsOf(span);
  return phrases.map(wordsOf).some((words) => words.some((_, i) => run.every((w, k) => words[i + k] === w)));
}

// A length written with a unit word, which a call must hold somewhere: "r=10 mi", not "Zone 1'" or "3 in gold".
const isMeasured = (quantity) => /[A-Za-z]$/.test(quantity) && !/(?<![A-Za-z])in$/i.test(quantity);

// The [start, end) range of the first occurrence of each span.
const where = (text, spans) =>
  spans.map((s) => [text.indexOf(s), s]).filter(([i]) => i >= 0).map(([i, s]) => [i, i + s.length]);

const roundTo6 = (x) => Math.round(x * 1e6) / 1e6 + 0;  // as train/dataset/generate.py writes a halved number

const inBounds = (node, n) => (node.minimum ?? n) <= n && n <= (node.maximum ?? n) &&
  (node.exclusiveMinimum ?? n - 1) < n && n < (node.exclusiveMaximum ?? n + 1);

// The spans of `text` that read as a date (dates.js) and are not part of a longer one.
export function datesWritten(text) {
  const dates = requestSpans(text, MAX_DATE_WORDS).filter(isWhen);
  return dates.filter((s) => !dates.some((longer) => longer !== s && longer.includes(s)));
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

// One number as a range of one: xgrammar writes an enum's 66.1 as "66.099999999999994", a range as "66.1".
const exactly = (n) => ({ type: "number", minimum: n, maximum: n });

const isObject = (node) => node !== null && typeof node === "object";
const holdsLocation = (node) => Array.isArray(node) ? node.some(holdsLocation) : isObject(node) &&
  (node[COPY_KEY] === PLACE_COPY || isCoordinateObject(node) ||
   Object.entries(node).some(([k, v]) => k !== CUES_KEY && holdsLocation(v)));
// Whether an object holds an array of locations that a list of `n` fits.
const holdsList = (node, n) => Object.values(node.properties || {}).some((p) => isObject(p) && p.type === "array" &&
  holdsLocation(p.items) && (p.minItems ?? 0) <= n && n <= (p.maxItems ?? n));
const isCoordinateObject = (node) =>
  COORDINATE_KEYS.every((k) => isObject(node.properties?.[k]) && node.properties[k][COPY_KEY] === true);

// Whether every time `span` occurs in `request` a capitalised word follows it that continues the name: not a common
// word, not a place itself (a qualifier: "Paris France"), and the longer name not one the gazetteer knows. Then the
// request names something longer that the gazetteer lacks ("pin Zanzibar Prime", "Berlin Wall" if unknown), and the
// part it knows is not that place: acting on it would be confidently wrong.
function extendedEverywhere(request, span, isKnownName) {
  const occurrences = [...String(request).matchAll(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(span)}(?![\\p{L}\\p{N}])(\\s+(\\S+))?`, "gu"))];
  if (!occurrences.length) return false;
  return occurrences.every((m) => {
    if (!m[1]) return false;
    const next = m[2].replace(SPAN_EDGES, "");
    return /^\p{Lu}/u.test(next) && /^[\p{L}'-]+$/u.test(next) && !COMMON_WORDS.has(next.toLowerCase()) &&
      !isKnownName(next) && !isKnownName(`${span} ${next}`);
  });
}

// (span) => whether `span` reads as a proper name in `request`: its first word (after "the") is capitalised and most
// of the request's other words are not, so capitals carry meaning there.
function isCapitalisedName(request) {
  const words = wordsOf(request).slice(1).map((w) => w.replace(SPAN_EDGES, "")).filter((w) => /^\p{L}/u.test(w));
  const capitalised = words.filter((w) => /^\p{Lu}/u.test(w)).length;
  const meaningful = capitalised <= words.length / 2;
  return (span) => meaningful && /^\p{Lu}/u.test(span.replace(/^the\s+/i, ""));
}

// `schema` narrowed to what `request` can mean (the rules at the top of this file); isPlace(name): whether the
// gazetteer knows a name (null: no gazetteer, any span may be a place). A schema nothing could satisfy any more
// comes back unchanged. Lengths count code points, as JSON Schema does.
export function forRequest(schema, request, isPlace = null) {
  const spans = requestSpans(request);
  const words = wordsOf(request);
  // a cue phrase's words are not a place: "show everything in Columbus view" names a scene mode, not Columbus
  const phrases = cueMatches(request, cuePhrases(schema))
    .map(([s, e]) => words.slice(s, e).join(" ").replace(SPAN_EDGES, ""));
  const isKnownName = (s) => !isPlace || (mayNamePlace(s) && isPlace(s));
  const known = (s) => isKnownName(s) && !within(s, phrases) && !(isPlace && extendedEverywhere(request, s, isKnownName));
  // "fly to Paris? no, Rome": a place named after the request's last correction replaces the ones before it
  const corrected = correctedFrom(request);
  const after = corrected ? requestSpans(request.slice(corrected)).filter(known) : [];
  const places = after.length ? after : spans.filter(known);
  const located = coordinatePairs(request);
  // a request that names no known place may name one the gazetteer lacks: the model may copy it (to be refused by
  // name at grounding) rather than turn it into another action; a part of it the gazetteer knows is not offered
  const unknown = isPlace && !places.length && !located.length
    ? placeLikeSpans(request).filter((s) => !within(s, phrases) && !isKnownName(s)) : [];
  const pairs = located.flatMap((loc) => loc.pairs);
  const listed = listedLocations(request, isPlace || (() => false));
  const colors = colorsNamed(request);
  const dates = datesWritten(request);
  const pairRanges = located.map(({ start, end }) => [start, end]);
  // "cylinder radius 3, no sorry, radius 4": the numbers of the clause a correction takes back are not written
  const takenBack = [retracted(request, (after) => /[0-9]/.test(after))].filter((r) => r);
  const typed = new Map(quantityPatterns(schema).map((pattern) => [pattern, quantitiesWritten(request, pattern)
    .filter(([start, end]) => !overlaps(start, end, [...pairRanges, ...takenBack]))]));
  const quantities = [...typed.values()].flat();
  const measured = quantities.some(([, , q]) => isMeasured(q));
  const notCoordinates = [...where(request, dates), ...quantities.map(([start, end]) => [start, end])];
  const numbers = numbersWritten(request, notCoordinates);  // typed coordinates not read as pairs
  const free = freeNumbers(request, [...pairRanges, ...notCoordinates, ...takenBack]);
  const quantityRanges = quantities.map(([start, end]) => [start, end]);
  const schemaLabels = [...new Set([...nodes(schema)].filter((n) => n[COPY_KEY] === true).flatMap((n) =>
    [...(n[LABEL_KEY] || []), ...Object.keys(n[DIRECTION_KEY] || {})]).filter((w) => !/\s/.test(w)))];
  const allWritten = numbersAsWritten(request, [...pairRanges, ...where(request, dates), ...takenBack])
    .map((n) => ({ ...n, free: !overlaps(n.start, n.end, quantityRanges) }));  // with quantities' numbers
  const units = unitsAfterNumbers(request);
  const requestTokens = labelTokens(request);
  const fits = (node, span) => {
    const length = [...span].length;
    return length >= (node.minLength ?? 0) && length <= (node.maxLength ?? length);
  };
  const digits = /[0-9]/.test(request);  // evidence that the request gives a number
  // [narrowed node or UNWRITABLE, announced] for a node a rule narrows by itself; null for the others. `matches`:
  // where the node's cues occur in the request; `only`: the one location a list item must be.
  function leaf(node, cues, matches, only) {
    const cued = matches.length > 0;
    // an object with cues ("at ...", "origin"; a tool's verbs and nouns: "pin", "route") needs one, or the request's
    // list for an array of locations it holds ("Lima -> Quito -> Bogota")
    if (node.type === "object" && Array.isArray(cues)) {
      return cued || (listed.length >= 2 && holdsList(node, listed.length)) ? null : [UNWRITABLE, false];
    }
    if (node[DIRECTION_KEY] !== undefined) return signed(node, cues, matches);
    if (node[COPY_KEY] === PLACE_COPY) {
      const names = (only ? [only.place] : places.length ? places : unknown).filter((n) => n && fits(node, n));
      return [names.length ? { enum: names } : UNWRITABLE, false];
    }
    if (node[COPY_KEY] === true && cues !== undefined && isNumeric(node)) return copiedNumber(node, cues, matches);
    if (node[COPY_KEY] === true && node.type === "number") {
      const inside = numbers.filter((n) => (node.minimum ?? n) <= n && n <= (node.maximum ?? n));
      return [inside.length ? { anyOf: inside.map(exactly) } : UNWRITABLE, false];
    }
    if (node[COPY_KEY] === true && node.format === WHEN_FORMAT) return [dates.length ? { enum: dates } : UNWRITABLE, dates.length > 0];
    if (node[COPY_KEY] === true && cues !== undefined) {
      const cuedSpans = [...new Set([...spansAfterCues(request, matches), ...gapSpans(request, cues)])];
      const afterCues = cuedSpans.filter((s) => fits(node, s));
      if (afterCues.length || node[BARE_KEY] !== true) {
        return [afterCues.length ? { enum: afterCues } : UNWRITABLE, afterCues.length > 0];
      }
    }
    if (node[COPY_KEY] === true && spans.some((s) => fits(node, s))) return [{ enum: spans.filter((s) => fits(node, s)) }, false];
    if (node.pattern === COLOR_PATTERN) return [colors.length ? { enum: colors } : UNWRITABLE, colors.length > 0];
    if (cues !== undefined && node.enum) {
      const { [CUES_KEY]: _, ...plain } = node;
      if (!Array.isArray(cues)) {
        const said = cueValues(matches, cues);
        const values = node.enum.filter((v) => said.includes(v));
        return [values.length ? { ...plain, enum: values } : UNWRITABLE, values.length > 0];
      }
      return [cued ? plain : UNWRITABLE, cued];
    }
    if (cues !== undefined && !(digits || cued)) return [UNWRITABLE, false];
    if (cued && !Array.isArray(cues) && !digits) return [{ anyOf: cueValues(matches, cues).map(exactly) }, true];
    return null;
  }
  // A signed number whose sign the request's direction words say ("zoom in 3 steps" is 3, "back out a bit" -0.5):
  // its size a number the request writes, else what its size cues say, else 1; null (left as it is) when the
  // request says no direction or both. A copied number ("move the lid down 5 mm": dz "-5 mm") is copied with that
  // sign, with the sign written when its words only name it ("in z by -40"), with either when they say both.
  function signed(node, cues, matches) {
    const words = node[DIRECTION_KEY];
    const said = cueValues(cueMatches(request, words), words);
    const signs = new Set(said.filter((v) => v !== 0));
    if (node[COPY_KEY] === true) {
      // which fields a request with direction words writes is the enclosing object's (walk); no direction word:
      // the sign written ("move bracket by (10, -20, 5)")
      const sign = signs.size > 1 ? null : signs.size ? [...signs][0] : 0;
      return [copiedNumber(node, cues, matches, sign, Object.entries(words))[0], false];
    }
    if (signs.size !== 1) return null;
    const [sign] = signs;
    const sizes = [...free.map(Math.abs), ...(cues && !Array.isArray(cues) ? cueValues(matches, cues) : [])]
      .filter((v) => v > 0);
    const values = [...new Set((sizes.length ? sizes : [1]).map((v) => sign * v))].filter((v) => inBounds(node, v));
    return [values.length ? { anyOf: values.map(exactly) } : UNWRITABLE, false];
  }
  // A copied, cue-announced number (or number or quantity string): a number written outside pairs, dates and
  // quantities, a value its cue words say, or a quantity: as typed, or a number the request writes with a unit it
  // writes ("30 by 75 by 4.9 mm": "30 mm"). `sign`: null, either sign the schema allows; 0, the sign written; 1 or
  // -1, that sign. A request that says one of the node's half words gives half of each number, in its unit
  // ("a 14.8 mm across bead": a radius of "7.4 mm").
  function copiedNumber(node, cues, matches, sign = null, directions = []) {
    const said = Array.isArray(cues) ? [] : cueValues(matches, cues);
    const halved = Array.isArray(node[HALF_KEY]) && cueMatches(request, node[HALF_KEY]).length > 0;
    const scale = (v) => halved ? roundTo6(v / 2) : v;
    const withSign = (v, s = sign) => s === null ? [v, -v] : s === 0 ? [v] : [s * Math.abs(v)];
    // the numbers its labels label, each with its label's sign, when there are any; else every number written
    const labels = [...(node[LABEL_KEY] || []).map((w) => [w, sign]), ...directions];
    const starts = labelledStarts(request, labels, schemaLabels, requestTokens);
    const labelled = allWritten.flatMap((n) => starts.filter(([at]) => at === n.start).map(([, s]) => ({ ...n, sign: s })));
    // on a labelled field, a cue that says the value ("at the origin": 0) is a label too
    const restricted = labelled.length > 0 || (said.length > 0 && LABEL_KEY in node);
    const pool = restricted ? labelled : allWritten.map((n) => ({ ...n, sign }));
    const choices = [];
    let announced = matches.length > 0;
    for (const form of node.anyOf || [node]) {
      if (form.type === "number") {
        const written = [...new Set([...pool.filter((n) => n.free).flatMap((n) => withSign(scale(n.value), n.sign)),
                                     ...said.flatMap((v) => withSign(v))])];
        choices.push(...written.filter((v) => inBounds(form, v)).map(exactly));
      } else if ("pattern" in form) {
        const pattern = new RegExp(form.pattern);
        const asTyped = (typed.get(form.pattern) || []).map(([, , q]) => q);
        const texts = new Set(halved || restricted || (sign !== null && sign !== 0) ? [] : asTyped);
        for (const { value, text, sign: s, unit: own } of pool) {
          // a number's own unit ("2 inch diameter, 3 feet long"), else any unit written ("30 by 75 by 4.9 mm")
          const its = own && pattern.test(`1${own}`) ? [own] : units;
          for (const v of withSign(scale(value), s)) {
            const numbers = v === value ? [text, String(v)] : [String(v)];
            for (const n of numbers) for (const unit of its) texts.add(n + unit);
          }
        }
        // the string form has no bounds, but a unit keeps the sign: a radius (a number above 0) is never "-1.5 cm"
        // nor "0 mm"
        const signOk = (t) => (node.anyOf || []).some((f) => f.type === "number" &&
          inBounds(f, Math.sign(parseFloat(t.replaceAll(",", ""))) * 1e-9));
        const written = [...texts].filter((t) => pattern.test(t) && signOk(t));
        if (written.length) choices.push({ enum: written });
        announced = announced || asTyped.some(isMeasured);
      }
    }
    return [choices.length ? { anyOf: choices } : UNWRITABLE, announced];
  }
  // A coordinate object as one branch per (longitude, latitude) pair the request writes; null when it writes none.
  function asPairs(node, only) {
    const readings = only ? only.pairs : pairs;
    if (!only && !readings.length) return null;
    if (!readings.length) return [UNWRITABLE, false];
    const properties = Object.fromEntries(
      Object.entries(node.properties).filter(([k]) => !COORDINATE_KEYS.includes(k)));
    const required = (node.required || []).filter((k) => !COORDINATE_KEYS.includes(k));
    const [walked, announced] = walk({ ...node, properties, required }, only);
    if (walked === UNWRITABLE) return [UNWRITABLE, false];
    const branches = readings.map(([lon, lat]) => ({
      ...walked,
      properties: { [COORDINATE_KEYS[0]]: exactly(lon), [COORDINATE_KEYS[1]]: exactly(lat), ...walked.properties },
      required: [...COORDINATE_KEYS, ...(walked.required || [])],
    }));
    return [branches.length === 1 ? branches[0] : { anyOf: branches }, announced];
  }
  // An array of locations as exactly the request's list, in its order; null when the request has no list of a
  // length the array allows.
  function asList(node) {
    const n = listed.length;
    if (!(n && (node.minItems ?? 0) <= n && n <= (node.maxItems ?? n) && holdsLocation(node.items))) return null;
    const items = listed.map((loc) => walk(node.items, loc)[0]);
    if (items.includes(UNWRITABLE)) return null;
    const { items: _, minItems: __, maxItems: ___, ...rest } = node;
    return [{ ...rest, prefixItems: items, items: false, minItems: n, maxItems: n }, false];
  }
  // [narrowed node or UNWRITABLE, whether the request announces it: a cue before it, a colour named]
  function walk(node, only = null) {
    if (Array.isArray(node)) return [node.map((item) => walk(item, only)[0]), false];
    if (!isObject(node)) return [node, false];
    const coordinates = isCoordinateObject(node);
    if (!only && listed.length >= MIN_ROUTE && (coordinates || node[COPY_KEY] === PLACE_COPY)) {
      return [UNWRITABLE, false];  // one location, where the request lists several
    }
    const cues = node[CUES_KEY];
    const matches = cues !== undefined ? cueMatches(request, cues) : [];
    let narrowed = leaf(node, cues, matches, only);
    if (narrowed === null && coordinates) narrowed = asPairs(node, only);
    if (narrowed === null && node.type === "array" && !only) narrowed = asList(node);
    if (narrowed !== null) return narrowed;
    const announced = matches.length > 0;  // a number its cue word asks for
    const out = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === "anyOf") {
        const branches = [];
        for (const v of value) {
          const [walked] = walk(v, only);  // a branch that became an anyOf itself (pairs) is spliced in
          if (walked === UNWRITABLE) continue;
          branches.push(...(isObject(walked) && Object.keys(walked).join() === "anyOf" ? walked.anyOf : [walked]));
        }
        if (!branches.length) return [UNWRITABLE, false];
        out[key] = branches;
      } else if (key !== "properties" && key !== CUES_KEY) {
        out[key] = walk(value, only)[0];
        if (out[key] === UNWRITABLE) return [UNWRITABLE, false];  // an array's items
      }
    }
    if (node.properties) {
      const required = [...(node.required || [])];
      out.properties = {};
      // "move wall_2 left 4 ft and back 2 ft": the fields whose direction words the request says are the ones it
      // writes, all of them when it writes a number for each ("lift the left wall by 0.7 in" names a wall)
      const directed = Object.entries(node.properties).filter(([, sub]) => isObject(sub) && sub[DIRECTION_KEY]);
      const spoken = directed.filter(([, sub]) => cueMatches(request, sub[DIRECTION_KEY]).length).map(([n]) => n);
      const unspoken = spoken.length ? directed.map(([n]) => n).filter((n) => !spoken.includes(n)) : [];
      if (spoken.length && allWritten.length >= spoken.length) required.push(...spoken.filter((n) => !required.includes(n)));
      for (const [name, sub] of Object.entries(node.properties)) {
        if (unspoken.includes(name)) {
          if (required.includes(name)) return [UNWRITABLE, false];
          continue;
        }
        const [walked, subAnnounced] = walk(sub, only);
        if (walked === UNWRITABLE) {
          if (required.includes(name)) return [UNWRITABLE, false];
          continue;
        }
        out.properties[name] = walked;
        if (subAnnounced && !required.includes(name)) required.push(name);
      }
      if (required.length) out.required = required;
      // what is left must still be satisfiable: enough properties, an anyOf of `required` lists still possible
      const kept = Object.keys(out.properties);
      if (kept.length < (node.minProperties ?? 0)) return [UNWRITABLE, false];
      if (out.anyOf) {
        out.anyOf = out.anyOf.filter((b) => b.properties || (b.required || []).every((k) => kept.includes(k)));
        if (!out.anyOf.length) return [UNWRITABLE, false];
      }
    }
    return [out, announced];
  }
  // a request whose only place is a name the gazetteer lacks ("zoom to Gotham") is answered by a tool that takes a
  // place, which grounding then refuses by name: a tool without one (a zoom) would act on a request we cannot ground.
  // A name is a capitalised span in a request whose other words are not capitalised ("Zoom In Twice" says nothing).
  const named = isCapitalisedName(request);
  const placed = unknown.some((s) => named(s) && !dates.some((d) => d.includes(s))) && isObject(schema)
    ? (schema.anyOf || []).filter(holdsLocation) : [];
  const offered = placed.length ? { ...schema, anyOf: placed } : schema;
  const holding = isObject(offered) ? (offered.anyOf || []).filter((b) => quantityPatterns(b).length) : [];
  const [narrowed] = walk(measured && holding.length ? { ...offered, anyOf: holding } : offered);
  return narrowed === UNWRITABLE ? schema : narrowed;
}
