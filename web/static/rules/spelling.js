// Slips of typing, shared by the rules that forgive one: cue words (copying.js), place names (grounding.js) and
// month names (dates.js). Contract tests: tests/test_rulebook.py, tests/test_grounding.py.

// Edit distance over UTF-16 code units, a swap of two neighbouring letters counting as one edit ("caleld" is one slip
// from "called"; optimal string alignment).
export function editDistance(a, b) {
  let before = null;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] !== b[j - 1] ? 1 : 0));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length];
}
