// Lengths with units in the browser: the same table and rules as webslm/quantities.py (parse_quantity,
// convert_quantity). tests/test_web_quantities.py checks both agree.

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
const QUANTITY = /^\s*(-?)([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)\s*-?\s*([A-Za-z]+|"|')\s*$/;

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

// '4.4 km' in 'm' -> 4400, rounded to 6 decimals.
export function convertQuantity(text, target) {
  const [number, unit] = parseQuantity(text);
  return Number((number * LENGTH_UNITS[unit][0] / LENGTH_UNITS[target][0]).toFixed(6));
}
