// Where a request says: the places and coordinate pairs it writes, in order, and the list they form.
//
// A 135M model writing a route of six places skips one, repeats one, or cuts "Ulan Bator" to "Bator"; handed the
// numbers of "9.936N 43.183E / 0.7831 degrees south, 24.6837 degrees west" it pairs them wrongly. The request already
// says both: coordinatePairs reads each pair with its longitude and latitude (hemisphere letters and words, "lat"/
// "lon" labels; an unlabelled "(a, b)" is read both ways), placesWritten the spans a gazetteer knows, and
// listedLocations the longest run of them joined as a list ("A, B and C", "A -> B -> C", "A; B; C", "from A to
// B"). copying.js's forRequest turns them into the only places, pairs and sequences the model may write.
// Contract tests: tests/test_copying.py and tests/test_grounding.py.

// An object with both coordinate keys may hold {"place": NAME} instead in what the model writes (emission.js).
export const COORDINATE_KEYS = ["longitude", "latitude"];
export const PLACE_KEY = "place";
export const MAX_SPAN_WORDS = 6;

// Words commands are made of are never places on their own. GeoNames lists airport codes and other words as
// alternate names: "THE" is Teresina's airport, "CAN" Guangzhou's, "ADD" Addis Ababa's, "Turn" a name of Angren;
// "fly me to the Grand Canyon" once flew to Brazil that way. Three capital letters in the data are airport codes
// (kept only as the gazetteer's own `abbreviations`, e.g. NYC), and a name that is one of these words resolves only
// when qualified ("Orange, US").
export const COMMON_WORDS = new Set(`a an the this that these those it its me my mine you your we our us i he she they
them his her their to of in on at by for from with into onto over under above below near around about through via
toward towards across along between and or but not no yes so then than as if is are was were be been being am do
does did can could will would shall should may might must have has had get got go goes going come take put make
made let lets please show see look view zoom fly move add draw place set turn clear remove delete drop pin mark
label name call called named point line area circle polygon box route path track map globe earth camera here there
where what when how which who why all some any each every more less most least much many few new old big small up
down out off back again now just only also very too one two three four five six seven eight nine ten north south
east west left right top bottom red blue green yellow black white orange purple pink gray grey day night time today
tomorrow noon midnight morning evening street level ground surface space sky closer further farther higher lower
distance height scene mode degree degrees lat lon long lng latitude longitude coordinate coordinates position
location heading pitch tilt triangle square rectangle pentagon hexagon octagon shape equator meridian parallel
tropic january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday utc gmt`.split(/\s+/));

// Words that join the words of one name ("Statue of Liberty", "Rio de Janeiro"), never its last word; articles may
// also be its first ("the Hague", "El Paso", "Los Angeles").
const NAME_JOINERS = new Set(["of", "the", "de", "del", "da", "do", "la", "le", "los", "las", "di", "al", "el"]);
const ARTICLES = new Set(["the", "la", "le", "los", "las", "al", "el"]);
// Words after which a request says where ("fly me to the Grand Canyon", "a pin over Xanadu").
const LOCATIVES = new Set(["to", "over", "at", "in", "near", "around", "above", "into", "toward", "towards",
                           "from", "through", "via", "across", "on"]);

// what is stripped from the ends of a span of words; apostrophes also start or end some names, so spans are also
// tried with them kept
const EDGES = "\\s\"'`.,;:!?()[\\]{}<>\u201c\u201d\u2018\u2019";
const EDGES_BUT_APOSTROPHES = "\\s\"`.,;:!?()[\\]{}<>\u201c\u201d";
const stripper = (chars) => new RegExp(`^[${chars}]+|[${chars}]+$`, "g");
export const SPAN_EDGES = stripper(EDGES);
export const SPAN_EDGES_BUT_APOSTROPHES = stripper(EDGES_BUT_APOSTROPHES);

const NUMBER = "[-\u2212]?[0-9]+(?:\\.[0-9]+)?";
const coordinate = (i) =>
  `(?:(?<label${i}>lat|latitude|lon|long|lng|longitude) *[=:]? *(?<labelled${i}>${NUMBER}))` +
  `|(?:(?<marked${i}>${NUMBER}) *°? *(?:degrees? *)?(?<hemisphere${i}>north|south|east|west|n|s|e|w)(?![a-z]))`;
const PAIR = new RegExp(`(?<![a-z0-9.])(?:coordinates? *)?(?:${coordinate(1)}) *,? *(?:${coordinate(2)})`, "gi");
const ORDER = "lon/lat|lat/lon|lng/lat|lat/lng";
const BARE_PAIR = new RegExp(
  `(?:(?<order>${ORDER}) *)?\\( *(?<a>${NUMBER}) *, *(?<b>${NUMBER}) *\\)` +
  `|(?<order2>${ORDER}) *(?<a2>${NUMBER}) *, *(?<b2>${NUMBER})`, "gi");

export const LIST_JOINERS = [",", ";", "/", "&", "->", "and", "to", "then", "or", ", and", ", then", "through", "via",
                             "and then", "then on to", "and on to", "by way of", ", via", ", through", ", then on to",
                             ", and then"];
export const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const JOINER = new RegExp(
  `^\\s*(?:${[...LIST_JOINERS].sort((a, b) => b.length - a.length).map(escapeRegExp).join("|")})\\s*$`, "i");
const LIST_MARK = "(?:^|\\s)(?:-+>?|&)(?:\\s|$)|^/|/$";
const LIST_MARK_RE = new RegExp(LIST_MARK);
const BREAK = new RegExp(`[,;]|${LIST_MARK}`);

// Whether [start, end) overlaps any of the [start, end) ranges `taken`.
export const overlaps = (start, end, taken) => taken.some(([s, e]) => s < end && start < e);

const value = (text) => Number(text.replace("\u2212", "-"));
const fitsGlobe = ([lon, lat]) => -180 <= lon && lon <= 180 && -90 <= lat && lat <= 90;

function role(groups, i) {
  const label = groups[`label${i}`];
  if (label) return [label.toLowerCase().startsWith("lat") ? "lat" : "lon", value(groups[`labelled${i}`])];
  const hemisphere = groups[`hemisphere${i}`][0].toLowerCase();
  const v = value(groups[`marked${i}`]);
  return ["ns".includes(hemisphere) ? "lat" : "lon", "sw".includes(hemisphere) ? -Math.abs(v) : v];
}

// {start, end, place: null, pairs: [[lon, lat], ...]} for each coordinate pair `text` writes, in order.
export function coordinatePairs(text) {
  text = String(text);
  const found = [];
  for (const m of text.matchAll(PAIR)) {
    const first = role(m.groups, 1), second = role(m.groups, 2);
    if (first[0] === second[0]) continue;
    const pair = first[0] === "lon" ? [first[1], second[1]] : [second[1], first[1]];
    if (fitsGlobe(pair)) found.push({ start: m.index, end: m.index + m[0].length, place: null, pairs: [pair] });
  }
  const taken = found.map(({ start, end }) => [start, end]);
  for (const m of text.matchAll(BARE_PAIR)) {
    const start = m.index, end = m.index + m[0].length;
    if (overlaps(start, end, taken)) continue;
    const g = m.groups;
    const order = (g.order || g.order2 || "").toLowerCase();
    const a = value(g.a ?? g.a2), b = value(g.b ?? g.b2);
    const lonFirst = order.startsWith("lon") || order.startsWith("lng");
    const readings = lonFirst ? [[a, b]] : order ? [[b, a]] : [[a, b], [b, a]];
    const same = (p, q) => p[0] === q[0] && p[1] === q[1];  // "(5, 5)" is one reading
    const pairs = readings.filter(fitsGlobe).filter((r, k, all) => all.findIndex((q) => same(q, r)) === k);
    if (pairs.length) found.push({ start, end, place: null, pairs });
  }
  return found.sort((x, y) => x.start - y.start);
}

// The runs of words a request gives as somewhere: right after a locative word ("the Grand Canyon", "Grand Canyon" and
// "the Grand" for "fly me to the Grand Canyon please"), and runs of capitalised words after the first word ("show me
// Mordor", "polygon: Narnia, Gondor, Rohan"). Each run stops at a number, punctuation or a common word ("please"); a
// name joiner may sit inside it but not end it. copying.js offers these to the model only when the request names no
// place the gazetteer knows and no coordinates, so the model copies the name it was given, and grounding refuses that
// name ("I don't know where ...") instead of the model acting on some other reading of the request (a zoom).
export function placeLikeSpans(text) {
  const words = [...String(text).matchAll(/\S+/g)].map((m) => m[0]);
  const spans = new Set();
  const capitalised = (word) => /^\p{Lu}/u.test(word.replace(SPAN_EDGES, ""));
  for (let i = 0; i < words.length; i++) {
    const after = i + 1 < words.length && LOCATIVES.has(words[i].replace(SPAN_EDGES, "").toLowerCase());
    const starts = i > 0 && capitalised(words[i]) && (!capitalised(words[i - 1]) || /[,;:]$/.test(words[i - 1]));
    if (!after && !starts) continue;
    const run = [];
    for (let j = starts ? i : i + 1; j < words.length && run.length < MAX_SPAN_WORDS; j++) {
      const bare = words[j].replace(SPAN_EDGES, "");
      const lower = bare.toLowerCase();
      const joiner = NAME_JOINERS.has(lower);
      if (!/\p{L}/u.test(bare) || /[0-9/_]/.test(bare) || (COMMON_WORDS.has(lower) && !joiner) || (joiner && !run.length && !ARTICLES.has(lower))) break;
      run.push(bare);
      const name = run.join(" ");
      if (!joiner) {
        spans.add(name);
        if (run[0].toLowerCase() === "the" && run.length > 1) spans.add(run.slice(1).join(" "));
      }
      if (/[,;:.!?)]$/.test(words[j])) break;
    }
  }
  return [...spans];
}

// Where a request corrects itself ("fly to Paris? no, Rome", "Lima, I mean Quito", "scratch that, Oslo"): the index
// after its last correction mark, or 0. The place a user names after it is the one meant.
const CORRECTION = /(?:^|[\s,.;!?])(?:(?:no|nope|sorry|actually|rather)(?:[,.;:!?]|\s+-+)|(?:i mean|make that|scratch that|or rather|no wait|actually make it)[,.;:!?]?)(?=\s|$)/gi;
export function correctedFrom(text) {
  const last = lastCorrection(text);
  return last ? last[1] : 0;
}

// [start, end) of a request's last correction mark (its leading separator included), or null.
export function lastCorrection(text) {
  let last = null;
  for (const m of String(text).matchAll(CORRECTION)) last = [m.index, m.index + m[0].length];
  return last;
}

// The [start, end) range of what a request's last correction takes back: the clause before the mark, from the
// comma or semicolon before it ("box 100 wide, 50 deep, no, 60 deep": "50 deep"); null when nothing follows the
// mark that could replace it (`replaces`: a test on the text after the mark).
export function retracted(text, replaces) {
  text = String(text);
  const last = lastCorrection(text);
  if (!last || !replaces(text.slice(last[1]))) return null;
  const before = text.slice(0, last[0]).replace(/(?:[\s,.;:!?]+|\b(?:no|nope|oh|oops|wait|um|er)\b)+$/i, "");
  return [Math.max(before.lastIndexOf(","), before.lastIndexOf(";")) + 1, before.length];
}

// Whether a span of the request can be one place's name as written ("Tsuen Wan, Hong Kong" can, "-> Jayapura" not).
export const mayNamePlace = (span) => !LIST_MARK_RE.test(span);

// The places `text` names, left to right: each the longest run of up to 6 words that isPlace accepts, with no list
// mark inside, outside the [start, end) ranges `taken`.
export function placesWritten(text, isPlace, taken = []) {
  text = String(text);
  const words = [...text.matchAll(/\S+/g)].map((m) => [m.index, m.index + m[0].length]);
  const found = [];
  let i = 0;
  while (i < words.length) {
    let n = Math.min(MAX_SPAN_WORDS, words.length - i);
    for (; n > 0; n--) {
      let start = words[i][0], end = words[i + n - 1][1];
      const raw = text.slice(start, end);
      const inner = [raw.replace(SPAN_EDGES_BUT_APOSTROPHES, ""), raw.replace(SPAN_EDGES, "")]
        .find((s) => s && !BREAK.test(s) && isPlace(s));
      if (inner === undefined) continue;
      start += raw.indexOf(inner);
      end = start + inner.length;
      if (overlaps(start, end, taken)) continue;
      found.push({ start, end, place: inner, pairs: [] });
      break;
    }
    i += n > 0 ? n : 1;
  }
  return found;
}

// Coordinate pairs and places, in the order `text` writes them.
export function locationsWritten(text, isPlace) {
  const pairs = coordinatePairs(text);
  const places = placesWritten(text, isPlace, pairs.map(({ start, end }) => [start, end]));
  return [...pairs, ...places].sort((x, y) => x.start - y.start);
}

// The longest run of two or more locations joined as a list ("Lima, Quito and Cusco"); else the corners of a box
// given as ranges or the ends of a line along a parallel or meridian (coordinatesDescribed); [] when there is none.
export function listedLocations(text, isPlace) {
  text = String(text);
  let best = [], run = [];
  for (const loc of locationsWritten(text, isPlace)) {
    if (run.length && JOINER.test(text.slice(run[run.length - 1].end, loc.start))) run.push(loc);
    else run = [loc];
    if (run.length > best.length) best = [...run];
  }
  return best.length >= 2 ? best : coordinatesDescribed(text);
}

// A number with an optional degree mark and hemisphere ("20", "-3.5", "10°W", "45 degrees south").
const DEGREES = `(?<n>[-\u2212]?[0-9]+(?:\\.[0-9]+)?) *(?:°|degrees?)? *(?<h>north|south|east|west|[nsew](?![a-z]))?`;
const named = (suffix) => DEGREES.replace("?<n>", `?<n${suffix}>`).replace("?<h>", `?<h${suffix}>`);
const SPAN = `(?:from|between)? *${named("a")} *(?:to|and|-|\u2013|through|till|until) *${named("b")}`;
const LON_WORD = "(?:longitudes?|lons?|longs?|lngs?)";
const LAT_WORD = "(?:latitudes?|lats?)";
// a range with its word before ("longitude 10 to 20") or after ("from 10 to 20 degrees longitude")
const rangeOf = (word) => [new RegExp(`(?<![a-z])${word} *(?:range)? *:? *${SPAN}`, "i"),
                           new RegExp(`${SPAN} *(?:of)? *${word}(?![a-z])`, "i")];
const LON_RANGE = rangeOf(LON_WORD), LAT_RANGE = rangeOf(LAT_WORD);
// "along the equator", "along latitude 30", "on the 49th parallel", "along the prime meridian", "along longitude 20E"
const PARALLEL = new RegExp(`(?<![a-z])(?:the )?(?:equator(?<equator>)|(?:tropic of )?(?<tropic>cancer|capricorn)|` +
  `(?:${LAT_WORD}|parallel) *${named("p")}|${named("q")}(?:st|nd|rd|th)? *parallel)(?![a-z])`, "i");
const MERIDIAN = new RegExp(`(?<![a-z])(?:the )?(?:(?:prime|greenwich) meridian(?<prime>)|` +
  `(?:antimeridian|international date line|date line)(?<anti>)|(?:${LON_WORD}|meridian) *${named("m")})(?![a-z])`, "i");
const TROPICS = { cancer: 23.44, capricorn: -23.44 };

function degreesOf(groups, suffix, axis) {
  const text = groups[`n${suffix}`];
  if (text === undefined) return null;
  const v = value(text);
  const h = (groups[`h${suffix}`] || "").toLowerCase().slice(0, 1);
  if (h && ("ns".includes(h) !== (axis === "lat"))) return null;  // "10E" is no latitude
  return h === "s" || h === "w" ? -Math.abs(v) : v;
}

const within = ([lo, hi], v) => v !== null && lo <= v && v <= hi;
const LON = [-180, 180], LAT = [-90, 90];

// The first range of `axis` the patterns find whose values can be that coordinate ("10E to 20E" is no latitude).
function rangeIn(text, patterns, axis, taken = []) {
  const found = patterns.flatMap((re) => [...text.matchAll(new RegExp(re.source, "gi"))]).sort((x, y) => x.index - y.index);
  const bounds = axis === "lat" ? LAT : LON;
  for (const m of found) {
    if (overlaps(m.index, m.index + m[0].length, taken)) continue;  // "lon 40 to 70 lat 62 to 63": not "40 to 70 lat"
    const a = degreesOf(m.groups, "a", axis), b = degreesOf(m.groups, "b", axis);
    if (within(bounds, a) && within(bounds, b) && a !== b) return { a, b, start: m.index, end: m.index + m[0].length };
  }
  return null;
}

// A box written as longitude and latitude ranges ("lon 10 to 20, lat 40 to 50": its four corners, west-south
// first, counter-clockwise), or a line along a parallel or a meridian between two values of the other coordinate
// ("along the equator from longitude -20 to 40", "the 49th parallel from 123W to 95W"). As locations, [] when the
// request describes neither.
export function coordinatesDescribed(text) {
  text = String(text);
  let lon = rangeIn(text, LON_RANGE, "lon");
  let lat = rangeIn(text, LAT_RANGE, "lat", lon ? [[lon.start, lon.end]] : []);
  if (!lon || !lat) {  // the latitude range first: "lat 10 to 20 lon 30 to 40"
    lat = rangeIn(text, LAT_RANGE, "lat");
    lon = lat && rangeIn(text, LON_RANGE, "lon", [[lat.start, lat.end]]);
  }
  const at = (pairs, start, end) => pairs.map((pair) => ({ start, end, place: null, pairs: [pair] }));
  if (lon && lat) {
    const [w, e] = [Math.min(lon.a, lon.b), Math.max(lon.a, lon.b)], [s, n] = [Math.min(lat.a, lat.b), Math.max(lat.a, lat.b)];
    return at([[w, s], [e, s], [e, n], [w, n]], Math.min(lon.start, lat.start), Math.max(lon.end, lat.end));
  }
  const parallel = PARALLEL.exec(text);
  if (parallel) {
    const g = parallel.groups;
    const latitude = g.equator !== undefined ? 0 : g.tropic ? TROPICS[g.tropic.toLowerCase()]
      : degreesOf(g, "p", "lat") ?? degreesOf(g, "q", "lat");
    const rest = text.slice(parallel.index + parallel[0].length);
    const span = rangeIn(rest, LON_RANGE, "lon") || rangeIn(rest, [new RegExp(SPAN, "i")], "lon");
    if (within(LAT, latitude) && span) return at([[span.a, latitude], [span.b, latitude]], parallel.index, text.length);
  }
  const meridian = MERIDIAN.exec(text);
  if (meridian) {
    const g = meridian.groups;
    const longitude = g.prime !== undefined ? 0 : g.anti !== undefined ? 180 : degreesOf(g, "m", "lon");
    const rest = text.slice(meridian.index + meridian[0].length);
    const span = rangeIn(rest, LAT_RANGE, "lat") || rangeIn(rest, [new RegExp(SPAN, "i")], "lat");
    if (within(LON, longitude) && span) return at([[longitude, span.a], [longitude, span.b]], meridian.index, text.length);
  }
  return [];
}
