// Unit tests of the charts' and run page's DOM-free helpers: tick labels, the best point,
// the speed facts, tags typed in a box.
import assert from "node:assert/strict";
import { test } from "node:test";

import { bestIndex, tickLabels } from "../../../static/js/charts.js";
import { parseTags } from "../../../static/js/notes_panel.js";
import { RunFacts } from "../../../static/js/run_facts.js";

test("zoomed-in ticks keep the decimals their step needs, never all '0'", () => {
  assert.deepEqual(tickLabels([0.0012, 0.0014, 0.0016], 0.0002), ["0.0012", "0.0014", "0.0016"]);
  assert.deepEqual(tickLabels([0.0002, 0.00025], 0.00005), ["2e-4", "2.5e-4"]);
  assert.deepEqual(tickLabels([0.01, 0.015, 0.02], 0.005), ["0.010", "0.015", "0.020"]);
  assert.deepEqual(tickLabels([1.5, 2, 2.5], 0.5), ["1.5", "2.0", "2.5"]);
  assert.deepEqual(tickLabels([0.25, 0.5, 0.75], 0.25), ["0.25", "0.50", "0.75"]);
  assert.deepEqual(tickLabels([0, 20, 40], 20), ["0", "20", "40"]);
  assert.deepEqual(tickLabels([250000, 500000], 250000), ["2.5e5", "5e5"]);
});

test("a log axis labels its decades as powers of ten", () => {
  assert.deepEqual(tickLabels([1e-5, 1e-3, 0.1, 10], undefined, true), ["1e-5", "1e-3", "1e-1", "1e1"]);
});

test("the best point is the lowest or highest finite value", () => {
  assert.equal(bestIndex([0.9, 0.4, null, 0.5], "min"), 1);
  assert.equal(bestIndex([0.6, NaN, 0.9, 0.8], "max"), 2);
  assert.equal(bestIndex([null, null], "min"), -1);
});

test("speed facts: seconds per epoch, samples per second and what is left", () => {
  const node = () => ({ textContent: "" });
  const root = { nodes: {}, querySelector(id) { return (this.nodes[id] ??= node()); } };
  const facts = new RunFacts(root);
  for (let e = 0; e < 3; e++) {
    facts.observe({ epoch: e, elapsed: 2 * (e + 1), batches: { iter: [100 * (e + 1)] } });
  }
  assert.deepEqual(facts.rates(8), { secondsPerEpoch: 2, samplesPerSecond: 400 });
  facts.render({ status: "running", params: { epochs: 10, bs: 8 } });
  assert.equal(root.nodes["#run-epoch-time"].textContent, "2.0 s");
  assert.equal(root.nodes["#run-throughput"].textContent, "400/s");
  assert.equal(root.nodes["#run-eta"].textContent, "14 s"); // 7 epochs left
  facts.observe({ epoch: 3, elapsed: 1, batches: { iter: [400] } }); // resumed: a new fit
  assert.equal(facts.rates(8).secondsPerEpoch, 1);
});

test("tags are split at commas and spaces, once each", () => {
  assert.deepEqual(parseTags(" baseline, wide  baseline,,x "), ["baseline", "wide", "x"]);
});
