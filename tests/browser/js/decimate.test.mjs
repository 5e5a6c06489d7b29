// Unit tests of the chart helpers (run: node --test tests/browser/js/).
import assert from "node:assert/strict";
import { test } from "node:test";

import { lowerBound, mergeSorted, minMaxIndices, smoothNext } from "../../../static/js/decimate.js";

test("short series are drawn whole", () => {
  const ys = [3, 1, 2];
  assert.deepEqual(minMaxIndices(ys, 0, ys.length, 10), [0, 1, 2]);
});

test("100,000 points shrink to at most two per bucket and keep every spike", () => {
  const n = 100_000;
  const ys = Array.from({ length: n }, (_, i) => Math.sin(i / 100));
  ys[31_337] = 50; // a spike a naive stride would miss
  ys[77_777] = -50;
  const idx = minMaxIndices(ys, 0, n, 800);
  assert.ok(idx.length <= 2 * 800 + 2, `drew ${idx.length} points`);
  assert.ok(idx.includes(31_337) && idx.includes(77_777));
  assert.equal(idx[0], 0);
  assert.equal(idx[idx.length - 1], n - 1);
  for (let i = 1; i < idx.length; i++) assert.ok(idx[i] > idx[i - 1], "indices increase");
});

test("a sub-range is decimated within its bounds", () => {
  const ys = Array.from({ length: 10_000 }, (_, i) => i % 7);
  const idx = minMaxIndices(ys, 2_000, 6_000, 100);
  assert.ok(idx.every((i) => i >= 2_000 && i < 6_000));
  assert.equal(idx[0], 2_000);
  assert.equal(idx[idx.length - 1], 5_999);
});

test("gaps (null) are skipped, never chosen as extremes", () => {
  const ys = Array.from({ length: 5_000 }, (_, i) => (i % 2 ? null : i));
  const idx = minMaxIndices(ys, 0, ys.length, 100);
  assert.ok(idx.slice(1, -1).every((i) => ys[i] !== null));
});

test("lowerBound finds the first x at or above a value", () => {
  const xs = [1, 3, 3, 5, 9];
  assert.equal(lowerBound(xs, 0), 0);
  assert.equal(lowerBound(xs, 3), 1);
  assert.equal(lowerBound(xs, 4), 3);
  assert.equal(lowerBound(xs, 10), 5);
});

test("debiased smoothing starts at the first value and follows a constant", () => {
  const state = {};
  assert.equal(smoothNext(state, 2, 0.9), 2);
  for (let i = 0; i < 50; i++) smoothNext(state, 2, 0.9);
  assert.ok(Math.abs(state.last - 2) < 1e-12);
  const jump = smoothNext(state, 12, 0.9);
  assert.ok(jump > 2 && jump < 12, "moves toward a new value without reaching it");
  assert.equal(smoothNext(state, null, 0.9), jump, "a missing loss keeps the last value");
});

test("merging an epoch's batches inserts new x in order and keeps the points already shown", () => {
  const xs = [1, 10, 20];
  const ys = [[0.1, 1.0, 2.0], [7, 7, 7]];
  // Iters 1 and 10 are there (live batch messages): those points stay as they are.
  const first = mergeSorted(xs, ys, [1, 2, 3, 10, 11], [[9], [0.2], [0.3], [9], [1.1]]);
  assert.equal(first, 1);
  assert.deepEqual(xs, [1, 2, 3, 10, 11, 20]);
  assert.deepEqual(ys[0], [0.1, 0.2, 0.3, 1.0, 1.1, 2.0]);
  assert.deepEqual(ys[1], [7, null, null, 7, null, 7]);
});

test("merging only later points appends; nothing new, NaN x and repeats are dropped", () => {
  const xs = [1, 2];
  const ys = [[1, 2]];
  assert.equal(mergeSorted(xs, ys, [3, 3, NaN, 4], [[3], [30], [0], [NaN]]), 2);
  assert.deepEqual(xs, [1, 2, 3, 4]);
  assert.deepEqual(ys[0], [1, 2, 3, null]);
  assert.equal(mergeSorted(xs, ys, [1, 2, 4], [[5], [5], [5]]), -1);
  assert.equal(mergeSorted(xs, ys, [], []), -1);
  assert.deepEqual(xs, [1, 2, 3, 4]);
  assert.deepEqual(ys[0], [1, 2, 3, null]);
  for (let i = 1; i < xs.length; i++) assert.ok(xs[i] > xs[i - 1]);
});
