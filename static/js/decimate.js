// Pure helpers for drawing long series: smoothing and min/max decimation.
// Kept free of the DOM so `node --test` can check them.

/**
 * Indices of the points to draw from ys[lo..hi): for each of `buckets` equal slices, the
 * minimum and the maximum (in index order), plus the first and last point. Spikes survive,
 * and the result has at most 2 * buckets + 2 points, whatever the input length.
 */
export function minMaxIndices(ys, lo, hi, buckets) {
  const count = hi - lo;
  if (count <= 0) return [];
  if (count <= 2 * buckets + 2) {
    const all = new Array(count);
    for (let i = 0; i < count; i++) all[i] = lo + i;
    return all;
  }
  const out = [lo];
  const size = count / buckets;
  for (let b = 0; b < buckets; b++) {
    const start = lo + Math.floor(b * size);
    const end = Math.min(hi, lo + Math.floor((b + 1) * size));
    let minI = -1;
    let maxI = -1;
    for (let i = start; i < end; i++) {
      const y = ys[i];
      if (y === null || Number.isNaN(y)) continue;
      if (minI < 0 || y < ys[minI]) minI = i;
      if (maxI < 0 || y > ys[maxI]) maxI = i;
    }
    if (minI < 0) continue;
    const first = Math.min(minI, maxI);
    const second = Math.max(minI, maxI);
    if (first > out[out.length - 1]) out.push(first);
    if (second > out[out.length - 1]) out.push(second);
  }
  if (hi - 1 > out[out.length - 1]) out.push(hi - 1);
  return out;
}

/** First index whose x is >= value, in sorted xs[0..n) (n when none). */
export function lowerBound(xs, value, n = xs.length) {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Exponential moving average with TensorBoard's debiasing, so the first points are not pulled
 * toward zero. `state` carries the running sums between calls: append-only and O(1) a point.
 */
export function smoothNext(state, value, weight) {
  if (value === null || !Number.isFinite(value)) return state.last ?? null;
  state.acc = (state.acc ?? 0) * weight + (1 - weight) * value;
  state.norm = (state.norm ?? 0) * weight + (1 - weight);
  state.last = state.acc / state.norm;
  return state.last;
}

/**
 * Merge points into sorted columns in place: `xs` increasing with no repeat, `ys` one array
 * per series (as long as xs). `newXs` are the points' x (increasing), `newRows[j]` the j-th
 * point's values, one per series. A point whose x is already in `xs` (or not finite, or not
 * after the previous new point) is dropped; the others are inserted in order. Only the tail
 * from the first new x is rebuilt, so merging a recent range into a long series is cheap.
 * Returns the index of the first inserted point, or -1 when none was new.
 */
export function mergeSorted(xs, ys, newXs, newRows) {
  let j = 0;
  while (j < newXs.length && !Number.isFinite(newXs[j])) j++;
  if (j === newXs.length) return -1;
  const start = lowerBound(xs, newXs[j]);
  const oldXs = xs.slice(start);
  const oldYs = ys.map((series) => series.slice(start));
  xs.length = start;
  for (const series of ys) series.length = start;
  let first = -1;
  let i = 0;
  const push = (x, values) => {
    xs.push(x);
    for (let s = 0; s < ys.length; s++) {
      const v = values[s];
      ys[s].push(v === undefined || v === null || !Number.isFinite(v) ? null : v);
    }
  };
  while (i < oldXs.length || j < newXs.length) {
    const x = j < newXs.length ? newXs[j] : null;
    if (x !== null && (!Number.isFinite(x) || (xs.length && x <= xs[xs.length - 1]))) {
      j++; // not a number, out of order, or a repeat of a point just taken
    } else if (x === null || (i < oldXs.length && oldXs[i] <= x)) {
      if (x !== null && oldXs[i] === x) j++; // already shown: keep the existing point
      push(
        oldXs[i],
        oldYs.map((series) => series[i]),
      );
      i++;
    } else {
      if (first < 0) first = xs.length;
      push(x, newRows[j]);
      j++;
    }
  }
  return first;
}
