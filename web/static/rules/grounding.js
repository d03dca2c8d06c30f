// Grounding: the model names places and copies quantities, the gazetteer and the unit table supply the numbers.
//
// A 135M model cannot memorise coordinates (6 % argument accuracy when it had to), so in what the model writes an
// object with longitude+latitude may be {"place": NAME} instead; nor can it convert units, so a number whose schema
// names a unit may be a quantity string like "4.4 km" (quantities.js). groundCall replaces both with numbers,
// so the executed call is always the tool schema with numbers. Contract tests: tests/test_grounding.py.

import { COLOR_FORMAT, canonicalColor, isColor } from "./colors.js";
import { editDistance, requestSpans } from "./copying.js";
import { COPY_KEY } from "./emission.js";
import { isDateTime, parseWhen } from "./dates.js";
import { COMMON_WORDS, COORDINATE_KEYS, PLACE_KEY } from "./locations.js";
import { UNIT_KEY, convertQuantity } from "./quantities.js";
import { show } from "./show.js";

const GAZETTEER_FORMAT = "webslm-gazetteer/1";

const AIRPORT_CODE = /^[A-Z]{3}$/;

// 'São  Paulo!' -> 'sao paulo'. Python strips characters with a non-zero combining class after NFKD; nonspacing
// marks (\p{Mn}) are the JS equivalent for every name in the gazetteer.
export function normalizePlaceName(text) {
  let s = String(text).normalize("NFKD").replace(/\p{Mn}/gu, "").toLowerCase();
  s = s.replace(/[^a-z0-9,]+/g, " ").replace(/\s*,\s*/g, ",");
  return s.replace(/^[ ,]+|[ ,]+$/g, "");
}

export class Gazetteer {
  constructor(data) {
    if (!data || data.format !== GAZETTEER_FORMAT) {
      throw new Error(`not a ${GAZETTEER_FORMAT} file (format=${data && data.format})`);
    }
    this.places = data.places.map((p) => ({ name: p.name, country: p.country, longitude: p.lon, latitude: p.lat,
                                             population: p.pop }));
    this.countries = new Map(Object.entries(data.countries));  // normalised country name -> ISO code
    this.names = new Map();
    this.aliases = new Map();
    data.places.forEach((p, i) => {  // places are sorted by population, biggest first: first one wins
      const own = normalizePlaceName(p.name);
      if (!this.names.has(own)) this.names.set(own, i);
      for (const alias of p.aliases || []) {
        if (AIRPORT_CODE.test(alias)) continue;
        const key = normalizePlaceName(alias);
        if (!this.aliases.has(key)) this.aliases.set(key, i);
      }
    });
    for (const [abbreviation, name] of Object.entries(data.abbreviations || {})) {
      const i = this.names.get(normalizePlaceName(name));
      if (i === undefined) throw new Error(`abbreviation ${show(abbreviation)}: no place named ${show(name)}`);
      this.aliases.set(normalizePlaceName(abbreviation), i);
    }
    this.byCountry = new Map();  // "key\u0000CC" -> index
    for (const table of [this.names, this.aliases]) {
      for (const [key, i] of table) {
        const k = key + "\u0000" + this.places[i].country;
        if (!this.byCountry.has(k)) this.byCountry.set(k, i);
      }
    }
    this.capitals = new Map();
    for (const [code, capital] of Object.entries(data.capitals)) {
      this.capitals.set(code, this.names.get(normalizePlaceName(capital)));
    }
  }

  resolve(name) {
    const key = normalizePlaceName(name);
    if (!key || COMMON_WORDS.has(key)) return null;
    for (const table of [this.names, this.aliases]) {
      if (table.has(key)) return this.places[table.get(key)];
    }
    if (this.countries.has(key)) {
      const i = this.capitals.get(this.countries.get(key));
      if (i !== undefined && i !== null) return this.places[i];
    }
    const comma = key.lastIndexOf(",");
    if (comma >= 0) {
      const city = key.slice(0, comma);
      const qualifier = key.slice(comma + 1);
      const code = this.countries.has(qualifier) ? this.countries.get(qualifier) : qualifier.toUpperCase();
      const i = this.byCountry.get(city + "\u0000" + code);
      if (i !== undefined) return this.places[i];
      return city ? this.resolve(city) : null;
    }
    return key.startsWith("the ") ? this.resolve(key.slice(4)) : null;  // "the Bronx" is the Bronx
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
        problems.push({ field: `${path}.${PLACE_KEY}`, message: `unknown place: I don't know where ${show(name)} is` });
        return out;
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
