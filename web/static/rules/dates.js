// Dates as people type them: the model copies "noon on May 4 1999" from the request, grounding makes it ISO 8601.
//
// A 135M model turned "noon" into 00:00 and "1999" into 2019, so a date-time argument whose tool schema marks it
// "x-copy": true is written as a span of the request that reads as one date (copying.js offers the longest such
// spans), and parseWhen turns it into '1999-05-04T12:00:00Z'. Understood: ISO dates with or without a time
// ("2029-12-08T12:45:00Z", "2030-03-24 02:00", "2010/09/12"), a month name or its first three letters with a day
// (ordinals too; a long month name also with one typing slip) and a four-digit year in any order, and at most one time of day ("noon", "midnight", "4:45am",
// "2 pm", "14:30", "14:30 UTC"), joined by "at", "on", "of", "the" and commas; only "the" may start a date and none
// may end one. Times are UTC. Contract tests: tests/test_dates.py.

import { editDistance } from "./spelling.js";

export const WHEN_FORMAT = "when";

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
  "november", "december"];
const JOINERS = new Set(["at", "on", "of", "the", "utc", "gmt", ","]);
const HALF = (name) => `(?:\\s*(?<${name}>am|pm|a\\.m\\.|p\\.m\\.))`;
const TOKEN = new RegExp(
  "(?<iso>(?<y>\\d{4})[-/](?<mo>\\d{1,2})[-/](?<d>\\d{1,2})(?:t(?<hh>\\d{2}):(?<mm>\\d{2})(?::(?<ss>\\d{2}))?z?)?)" +
  "(?![\\w:])" +
  `|(?<clock>\\d{1,2}):(?<minute>\\d{2})(?::(?<second>\\d{2}))?${HALF("clock_half")}?(?![\\w:])` +
  `|(?<hour>\\d{1,2})${HALF("half")}(?!\\w)` +
  "|(?<year>\\d{4})(?!\\w)" +
  "|(?<day>\\d{1,2})(?:st|nd|rd|th)?(?!\\w)" +
  "|(?<word>[a-z]+)\\.?" +
  "|(?<comma>,)", "y");
const NAMED_TIMES = { noon: 12, midday: 12, midnight: 0 };

const daysIn = (year, month) => {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
};

function hourOf(hour, half) {
  if (half === undefined) return Number(hour);
  if (!(Number(hour) >= 1 && Number(hour) <= 12)) throw new Error(`${hour} is not an hour on a 12-hour clock`);
  return (Number(hour) % 12) + (half.startsWith("p") ? 12 : 0);
}

// A month's number from its name, its first three letters or "sept"; a long name (seven letters or more:
// "Febuary", "Septmber", "Decmber") also with one slip, when it is one month's alone. Shorter names are not guessed:
// one slip from "march" or "june" is another word ("match", "tune").
function monthNumber(word) {
  const i = MONTHS.findIndex((name, k) => word === name || word === name.slice(0, 3) || (k === 8 && word === "sept"));
  if (i >= 0) return i + 1;
  const near = MONTHS.flatMap((name, k) => (name.length >= 7 && editDistance(word, name) <= 1 ? [k + 1] : []));
  return near.length === 1 ? near[0] : null;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");
const quoted = (text) => `'${text}'`;

// "noon on May 4 1999" -> "1999-05-04T12:00:00Z"; throws an Error saying what is wrong.
export function parseWhen(text) {
  if (typeof text !== "string") throw new Error(`${JSON.stringify(text)} is not a date`);
  const source = text.trim().toLowerCase();
  const fail = (why) => { throw new Error(`${quoted(text)} is not a date: ${why}`); };
  const fields = new Map();
  const tokens = [];
  const put = (name, value) => {
    if (fields.has(name)) fail(`it writes the ${name} twice`);
    fields.set(name, value);
  };
  let at = 0;
  while (at < source.length) {
    if (/\s/.test(source[at])) { at++; continue; }
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(source);
    if (!m) fail(`cannot read ${quoted(source.slice(at))}`);
    at = TOKEN.lastIndex;
    tokens.push(m[0]);
    const g = m.groups;
    if (g.iso) {
      put("date", [+g.y, +g.mo, +g.d]);
      if (g.hh) put("time", [+g.hh, +g.mm, +(g.ss ?? 0)]);
    } else if (g.clock) {
      put("time", [hourOf(g.clock, g.clock_half), +g.minute, +(g.second ?? 0)]);
    } else if (g.hour) {
      put("time", [hourOf(g.hour, g.half), 0, 0]);
    } else if (g.year) {
      put("year", +g.year);
    } else if (g.day) {
      put("day", +g.day);
    } else if (g.word in NAMED_TIMES) {
      put("time", [NAMED_TIMES[g.word], 0, 0]);
    } else if (g.word && !JOINERS.has(g.word)) {
      const month = monthNumber(g.word);
      if (month === null) fail(`${quoted(g.word)} is neither a month nor a time`);
      put("month", month);
    }
  }
  const joining = (token) => JOINERS.has(token.replace(/\.$/, ""));
  if (!tokens.length) fail("it is empty");
  if ((joining(tokens[0]) && tokens[0] !== "the") || joining(tokens[tokens.length - 1])) {
    fail("it starts or ends with a joining word");
  }
  let year, month, day;
  if (fields.has("date")) {
    if (["year", "month", "day"].some((k) => fields.has(k))) fail("it writes two dates");
    [year, month, day] = fields.get("date");
  } else if (["year", "month", "day"].every((k) => fields.has(k))) {
    [year, month, day] = [fields.get("year"), fields.get("month"), fields.get("day")];
  } else {
    fail("it needs a day, a month and a four-digit year");
  }
  const [hour, minute, second] = fields.get("time") ?? [0, 0, 0];
  if (!(month >= 1 && month <= 12) || !(day >= 1 && day <= daysIn(year, month))) {
    fail(`there is no day ${day} in month ${month} of ${year}`);
  }
  if (hour > 23 || minute > 59 || second > 59) fail(`${pad(hour)}:${pad(minute)}:${pad(second)} is not a time of day`);
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}Z`;
}

// A JSON Schema "date-time": the extended ISO 8601 forms a tool call may hold (a date, optionally with a 'T' or ' '
// time hh[:mm[:ss[.fff]]] and an offset), with a real day of a real month.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d+)?)?)?)?)?$/;

export function isDateTime(text) {
  const m = typeof text === "string" ? DATE_TIME.exec(text) : null;
  if (!m) return false;
  const [year, month, day] = [+m[1], +m[2], +m[3]];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  return m[4] === undefined || (+m[4] <= 23 && (m[5] === undefined || +m[5] <= 59) && (m[6] === undefined || +m[6] <= 59));
}

export function isWhen(text) {
  try {
    parseWhen(text);
    return true;
  } catch {
    return false;
  }
}
