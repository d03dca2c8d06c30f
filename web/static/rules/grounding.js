// Grounding: the model names places and copies quantities, the gazetteer and the unit table supply the numbers.
//
// A 135M model cannot memorise coordinates (6 % argument accuracy when it had to), so in what the model writes an
// object with longitude+latitude may be {"place": NAME} instead; nor can it convert units, so a number whose schema
// names a unit may be a quantity string like "4.4 km" (quantities.js). groundCall replaces both with numbers,
// so the executed call is always the tool schema with numbers. Contract tests: tests/test_grounding.py.

import { COLOR_FORMAT, canonicalColor, isColor } from "./colors.js";
import { requestSpans } from "./copying.js";
import { COPY_KEY, FRAME_KEY } from "./emission.js";
import { isDateTime, parseWhen } from "./dates.js";
import { COMMON_WORDS, COORDINATE_KEYS, PLACE_KEY } from "./locations.js";
import { UNIT_KEY, convertQuantity } from "./quantities.js";
import { show } from "./show.js";
import { editDistance } from "./spelling.js";

const GAZETTEER_FORMAT = "webslm-gazetteer/2";

const AIRPORT_CODE = /^[A-Z]{3}$/;

// 'São  Paulo!' -> 'sao paulo'. Python strips characters with a non-zero combining class after NFKD; nonspacing
// marks (\p{Mn}) are the JS equivalent for every name in the gazetteer.
export function normalizePlaceName(text) {
  let s = String(text).normalize("NFKD").replace(/\p{Mn}/gu, "").toLowerCase();
  s = s.replace(/[^a-z0-9,]+/g, " ").replace(/\s*,\s*/g, ",");
  return s.replace(/^[ ,]+|[ ,]+$/g, "");
}

const FUZZY_MIN = 8;  // letters in a name before one slip is read as that name

const deletions = (key) => [...new Set([...key].map((_, k) => key.slice(0, k) + key.slice(k + 1)))];

// Each name of FUZZY_MIN letters or more, and each of its one-letter deletions -> [[name, place index], ...]: two
// strings one edit apart share a deletion (or one is a deletion of the other).
function slipIndex(names) {
  const index = new Map();
  const add = (variant, entry) => {
    if (!index.has(variant)) index.set(variant, []);
    index.get(variant).push(entry);
  };
  for (const [name, i] of names) {
    if (name.length < FUZZY_MIN) continue;
    add(name, [name, i]);
    for (const variant of deletions(name)) add(variant, [name, i]);
  }
  return index;
}

// A gazetteer file (`webslm data gazetteer`, train/dataset/gazetteer.py): places ordered by prominence, each with a
// kind (city, country, continent, ocean, mountain, building, ...), a point and, for areas, a box [west, south,
// east, north] (west > east across the antimeridian). A name shared by several places goes to the first (the most
// prominent); `preferred` names (the curated file's deliberate choices) come before all, `known_as` names (curated)
// match like names, GeoNames' `aliases` only after every name, never as three capital letters (airport codes: "THE"
// is Teresina's).
export class Gazetteer {
  constructor(data) {
    if (!data || data.format !== GAZETTEER_FORMAT) {
      throw new Error(`not a ${GAZETTEER_FORMAT} file (format=${data && data.format}); rebuild it with ` +
                      "`webslm data gazetteer`");
    }
    this.places = data.places.map((p) => ({ name: p.name, kind: p.kind, country: p.country, longitude: p.lon,
                                             latitude: p.lat, population: p.pop, bbox: p.bbox || null }));
    this.countries = new Map();  // normalised country name -> ISO code, for "Name, Country" qualifiers
    for (const [name, code] of Object.entries(data.countries)) this.countries.set(normalizePlaceName(name), code);
    this.names = new Map();
    this.aliases = new Map();
    this.byCountry = new Map();  // "key\u0000CC" -> index: every place of a name is reachable by its country
    const add = (table, name, i) => {
      const key = normalizePlaceName(name);
      if (!key) return;
      if (!table.has(key)) table.set(key, i);
      const k = key + "\u0000" + this.places[i].country;
      if (!this.byCountry.has(k)) this.byCountry.set(k, i);
    };
    data.places.forEach((p, i) => {  // deliberate choices first: "New York" is the city, not the state
      for (const name of p.preferred || []) add(this.names, name, i);
    });
    data.places.forEach((p, i) => {
      add(this.names, p.name, i);
      for (const name of p.known_as || []) add(this.names, name, i);
    });
    data.places.forEach((p, i) => {
      for (const alias of p.aliases || []) if (!AIRPORT_CODE.test(alias)) add(this.aliases, alias, i);
    });
  }

  resolve(name) {
    const key = normalizePlaceName(name);
    if (!key || COMMON_WORDS.has(key)) return null;
    return this.exactly(key) ?? this.nearly(key) ?? (key.startsWith("the ") ? this.nearly(key.slice(4)) : null);
  }

  // A name one slip (a letter missed, added, changed or two swapped) away from exactly one place's name or curated
  // name ("grand canyn", "barcelna"), its first and last letters as written (people rarely slip there, and invented
  // names often differ just there: "Atlantis" is not the Atlantic); only for names of FUZZY_MIN letters or more, so
  // one slip does not turn "Gondor" into Gondar; null when two places are that near.
  nearly(key) {
    if (key.length < FUZZY_MIN - 1 || key.split(" ").every((w) => COMMON_WORDS.has(w) || w.length < 3)) return null;
    if (!this.slips) this.slips = slipIndex(this.names);
    const found = new Set();
    for (const variant of [key, ...deletions(key)]) {
      for (const [name, i] of this.slips.get(variant) || []) {
        if (name[0] === key[0] && name.at(-1) === key.at(-1) && editDistance(key, name) <= 1) found.add(i);
      }
    }
    return found.size === 1 ? this.places[[...found][0]] : null;
  }

  exactly(key) {
    for (const table of [this.names, this.aliases]) {
      if (table.has(key)) return this.places[table.get(key)];
    }
    const comma = key.lastIndexOf(",");
    if (comma >= 0) {
      const city = key.slice(0, comma);
      const qualifier = key.slice(comma + 1);
      const code = this.countries.has(qualifier) ? this.countries.get(qualifier) : qualifier.toUpperCase();
      const i = this.byCountry.get(city + "\u0000" + code);
      if (i !== undefined) return this.places[i];
      return city && !COMMON_WORDS.has(city) ? this.exactly(city) : null;
    }
    return key.startsWith("the ") && !COMMON_WORDS.has(key.slice(4)) ? this.exactly(key.slice(4)) : null;  // "the Bronx"
  }

  // resolve() for a name the model was meant to copy from `request`: a slip away from a span of the request that
  // resolves means that span.
  resolveCopied(name, request) {
    if (request) {
      const key = normalizePlaceName(name);
      const spans = requestSpans(request).map(normalizePlaceName);
      if (key && !spans.includes(key)) {
        const slip = Math.max(1, Math.floor(key.length / 4));
        const near = [];
        spans.forEach((span, i) => {
          if (Math.abs(span.length - key.length) <= slip) near.push([editDistance(key, span), i]);
        });
        near.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        for (const [distance, i] of near) {
          if (distance > slip) break;
          const place = this.resolve(spans[i]);
          if (place) return place;
        }
      }
    }
    return this.resolve(name);
  }
}

// How a refusal for a place the gazetteer does not know begins (the name and " is" follow); eval counts a hand-written
// reference refused this way as a gap in our data.
export const UNKNOWN_PLACE = "unknown place: I don't know where ";

// A tool schema marks the camera height that frames an area with "x-frame": true (flyTo's height): when the model names
// a place with a box (a country, a state, a desert, a tower's few hundred metres) and writes no height, the camera
// goes above the box's centre at the height that shows all of it. Cesium's default camera looks straight down with a
// 60 degree field of view across the wider side of the canvas; for a 16:9 canvas that shows 1.15 h across and 0.65 h
// top to bottom from height h. The box is given 10 % margin; the height stays within the tool's range.
const METRES_PER_DEGREE = 111320;
const ACROSS = 2 * Math.tan(Math.PI / 6), DOWN = 2 * Math.tan(Math.atan(Math.tan(Math.PI / 6) * 9 / 16));

export function boxCentre([west, south, east, north]) {
  const width = east >= west ? east - west : east - west + 360;
  let longitude = west + width / 2;
  if (longitude > 180) longitude -= 360;
  return [Number(longitude.toFixed(5)), Number(((south + north) / 2).toFixed(5))];
}

export function frameHeight([west, south, east, north]) {
  const width = east >= west ? east - west : east - west + 360;
  const middle = ((south + north) / 2) * Math.PI / 180;
  const wide = width * METRES_PER_DEGREE * Math.max(Math.cos(middle), 0.05);
  const tall = (north - south) * METRES_PER_DEGREE;
  const height = 1.1 * Math.max(wide / ACROSS, tall / DOWN);
  return Math.round(Math.min(Math.max(height, 200), 2.5e7));
}

// The executed call for a model's output: quantity strings converted to the unit their tool schema names (tools:
// name -> {parameters}), every {"place": NAME} replaced by the gazetteer's longitude/latitude (without a gazetteer
// the key stays, for the tool contract to refuse); with the user's `request`, a place name copied with a slip is
// read as the request's words (resolveCopied); a date copied as typed becomes ISO 8601 (dates.js); colours are
// written canonically (colors.js). Returns {call, problems}; the input is untouched.
export function groundCall(output, tools, gazetteer, request = null) {
  const problems = [];
  function walk(node, schema, path) {
    schema = schema && typeof schema === "object" ? schema : {};
    if (typeof node === "string" && UNIT_KEY in schema) {
      try {
        return convertQuantity(node, schema[UNIT_KEY]);
      } catch (e) {
        problems.push({ field: path, message: e.message });
        return node;
      }
    }
    if (typeof node === "string" && schema.format === "date-time" && schema[COPY_KEY] === true) {
      try {
        return parseWhen(node);
      } catch (e) {
        if (!isDateTime(node)) problems.push({ field: path, message: e.message });
        return node;
      }
    }
    if (typeof node === "string" && schema.format === COLOR_FORMAT && isColor(node)) return canonicalColor(node);
    if (Array.isArray(node)) return node.map((item, i) => walk(item, schema.items, `${path}[${i}]`));
    if (node === null || typeof node !== "object") return node;
    const props = schema.properties || {};
    const out = Object.create(null);  // built from model output: nothing inherited
    for (const [k, v] of Object.entries(node)) {
      if (k !== PLACE_KEY || !gazetteer) out[k] = walk(v, Object.hasOwn(props, k) ? props[k] : null, path ? `${path}.${k}` : k);
    }
    if (gazetteer && Object.hasOwn(node, PLACE_KEY)) {
      const name = node[PLACE_KEY];
      const place = typeof name === "string" ? gazetteer.resolveCopied(name, request) : null;
      if (!place) {
        problems.push({ field: `${path}.${PLACE_KEY}`, message: `${UNKNOWN_PLACE}${show(name)} is` });
        return out;
      }
      const frameKey = place.bbox ? Object.keys(props).find((k) => props[k] && props[k][FRAME_KEY] === true) : undefined;
      if (frameKey !== undefined && !Object.hasOwn(out, frameKey)) {  // "fly to France": the camera shows all of it
        const [longitude, latitude] = boxCentre(place.bbox);
        return Object.assign(Object.create(null), { [COORDINATE_KEYS[0]]: longitude, [COORDINATE_KEYS[1]]: latitude,
                                                    [frameKey]: frameHeight(place.bbox) }, out);
      }
      return Object.assign(Object.create(null), { [COORDINATE_KEYS[0]]: place.longitude,
                                                  [COORDINATE_KEYS[1]]: place.latitude }, out);
    }
    return out;
  }
  if (output === null || typeof output !== "object" || Array.isArray(output)) return { call: output, problems };
  const known = typeof output.tool === "string" && Object.hasOwn(tools, output.tool);
  const tool = known ? tools[output.tool] : null;
  const call = Object.create(null);
  for (const [k, v] of Object.entries(output)) call[k] = walk(v, k === "arguments" && tool ? tool.parameters : null, k);
  return { call, problems };
}
