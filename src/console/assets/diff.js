// A line diff by longest common subsequence, for comparing a history version with the
// current content of a config.

/** Lines beyond which the quadratic table is not built (both sides shown whole instead). */
const CELLS_MAX = 4_000_000;

/**
 * The edit script turning `before` into `after`: `[{op, text}]` with op `' '` (kept),
 * `'-'` (only in before) or `'+'` (only in after), in order.
 */
export function lineDiff(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  if (n * m > CELLS_MAX) {
    return [...a.map((text) => ({ op: '-', text })), ...b.map((text) => ({ op: '+', text }))];
  }
  // lcs[i][j]: length of the LCS of a[i..] and b[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', text: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', text: a[i++] });
    } else {
      out.push({ op: '+', text: b[j++] });
    }
  }
  while (i < n) out.push({ op: '-', text: a[i++] });
  while (j < m) out.push({ op: '+', text: b[j++] });
  return out;
}

/** How many lines were added and removed. */
export function diffStats(script) {
  let added = 0;
  let removed = 0;
  for (const line of script) {
    if (line.op === '+') added++;
    if (line.op === '-') removed++;
  }
  return { added, removed };
}
