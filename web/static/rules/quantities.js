// Lengths with units: the model copies "15 miles" from the request, grounding turns it into metres.
//
// A 135M model converts units badly ("8 km" came out as 800000, "500 ft" as 500), so a number argument whose tool
// schema names its unit ("x-unit": "m") may be written as a quantity string, a number and a length unit as people
// type them: "4.4 km", "16,000 feet", "15-mile", "0.6m", '16"'. convertQuantity turns it into the schema's unit.
// Contract tests: tests/test_quantities.py.

export const UNIT_KEY = "x-unit";

// Metres per unit, and the spellings that mean it (matched after lower-casing).
export const LENGTH_UNITS = {
  mm: [0.001, ["mm", "millimeter", "millimeters", "millimetre", "millimetres"]],
  cm: [0.01, ["cm", "centimeter", "centimeters", "centimetre", "centimetres"]],
  m: [1.0, ["m", "meter", "meters", "metre", "metres"]],
  km: [1000.0, ["km", "kilometer", "kilometers", "kilometre", "kilometres"]],
  in: [0.0254, ["in", "inch", "inches", '"']],
  ft: [0.3048, ["ft", "foot", "feet", "'"]],
  yd: [0.9144, ["yd", "yard", "yards"]],
  mi: [1609.344, ["mi", "mile", "miles"]],
};
const SPELLINGS = new Map(Object.entries(LENGTH_UNITS).flatMap(([unit, [, names]]) => names.map((n) => [n, unit])));
// Lengths people write that these rules do not convert. A request that gives one ("a circle of 5 leagues") lets the
// model copy it as typed, and grounding refuses it by its unit, instead of the bare 5 passing as 5 metres.
export const UNREAD_LENGTH_UNITS = ["league", "leagues", "furlong", "furlongs", "fathom", "fathoms", "cubit", "cubits",
  "chain", "chains", "parsec", "parsecs", "nautical mile", "nautical miles", "nmi", "light year", "light years",
  "light-year", "light-years", "au", "verst", "versts", "smoot", "smoots", "klick", "klicks"];
// What the emission schema lets a model write (constrained decoding uses it too): an optional minus, at most 12
// digits with optional thousands commas and at most 6 decimals (a drifting model wrote "5000000000..." until it ran
// out of tokens), an optional space or hyphen, then a unit spelling in lower, upper or title case (the grammar has
// no case folding): "26.71S" or "95d" cannot be written as a height. Unread units are among the spellings only so
// that grounding can refuse them by name.
const title = (word) => word.charAt(0).toUpperCase() + word.slice(1);
const UNIT_FORMS = [...new Set([...SPELLINGS.keys(), ...UNREAD_LENGTH_UNITS].flatMap((s) => [s, s.toUpperCase(), title(s)]))]
  .sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
export const QUANTITY_PATTERN = `^-?[0-9]{1,12}(,[0-9]{3}){0,3}(\\.[0-9]{1,6})?[ -]?(${UNIT_FORMS.join("|")})$`;

const QUANTITY = /^\s*(-?)([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)\s*-?\s*([A-Za-z]+(?:[ -][A-Za-z]+)?|"|')\s*$/;

// '16,000 feet' -> [16000, 'ft']. Throws an Error saying what is wrong.
export function parseQuantity(text) {
  const m = typeof text === "string" ? QUANTITY.exec(text) : null;
  if (!m) throw new Error(`${JSON.stringify(text)} is not a quantity like '4.4 km' or '500 ft'`);
  const unit = SPELLINGS.get(m[3].toLowerCase());
  if (!unit) {
    throw new Error(`unknown length unit ${JSON.stringify(m[3])} in ${JSON.stringify(text)}; known: ${Object.keys(LENGTH_UNITS).join(", ")}`);
  }
  return [(m[1] ? -1 : 1) * Number(m[2].replaceAll(",", "")), unit];
}

// '4.4 km' in 'm' -> 4400, rounded to 6 decimals (half away from zero on the decimal digits, not toFixed's binary
// value: 0.0000005 km is 0.000001 m).
export function convertQuantity(text, target) {
  const [number, unit] = parseQuantity(text);
  return roundTo6(number * LENGTH_UNITS[unit][0] / LENGTH_UNITS[target][0]);
}

function roundTo6(x) {
  const scaled = Math.round(Math.abs(x) * 1e6) / 1e6;
  return Math.sign(x) * scaled + 0;  // + 0: no -0
}
