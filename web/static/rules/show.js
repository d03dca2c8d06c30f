// How a value is written in a problem's message, as a Python user reads it: strings quoted ('Paris'), numbers
// plain, lists and objects spelled out ([1, 2], {'place': 'Paris'}).

export function show(value) {
  if (typeof value === "string") {
    const json = JSON.stringify(value);
    return value.includes("'") && !value.includes('"') ? json : `'${json.slice(1, -1).replaceAll('\\"', '"')}'`;
  }
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value).map((k) => `${show(k)}: ${show(value[k])}`).join(", ")}}`;
  }
  return String(value);
}
