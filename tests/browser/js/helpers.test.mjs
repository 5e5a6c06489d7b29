// Unit tests of the DOM-free helpers the pages share: URLs, the token, stop sources.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  heldAt,
  hyperText,
  lastLearningRate,
  StopSource,
  stoppedByUser,
  stopReasonText,
  stopSourceLabel,
} from "../../../static/js/messages.js";
import { authHeaders, clearToken, getToken, setToken, socketProtocols } from "../../../static/js/token.js";
import { runPageUrl, runSocketPath, runUrl } from "../../../static/js/urls.js";

test("run URLs escape every part once", () => {
  assert.equal(runUrl("ab/c"), "/api/runs/ab%2Fc");
  assert.equal(runUrl("r1", "callbacks", "x y"), "/api/runs/r1/callbacks/x%20y");
  assert.equal(runSocketPath("r?1"), "/ws/runs/r%3F1");
  assert.equal(runPageUrl("r1"), "/runs/r1");
});

test("the token goes into the header and the subprotocols, and can be forgotten", () => {
  const store = new Map();
  globalThis.localStorage = {
    getItem: (k) => store.get(k) ?? null,
    setItem: (k, v) => store.set(k, v),
    removeItem: (k) => store.delete(k),
  };
  try {
    assert.deepEqual(authHeaders(), {});
    assert.deepEqual(socketProtocols(), ["fitboard"]);
    setToken("s3cret");
    assert.equal(getToken(), "s3cret");
    assert.deepEqual(authHeaders(), { Authorization: "Bearer s3cret" });
    assert.deepEqual(socketProtocols(), ["fitboard", "bearer.s3cret"]);
    clearToken();
    assert.equal(getToken(), "");
    setToken("again");
    setToken("");
    assert.equal(getToken(), "");
  } finally {
    delete globalThis.localStorage;
  }
});

test("stop sources: a person, the server, or the callback's name", () => {
  const user = { source: StopSource.USER, message: "stopped by user", epoch: 1, iter: 40 };
  const early = { source: "early_stopping", message: "no improvement", epoch: 4, iter: null };
  assert.ok(stoppedByUser(user));
  assert.ok(!stoppedByUser(early));
  assert.ok(!stoppedByUser({ source: StopSource.SHUTDOWN }));
  assert.ok(!stoppedByUser(null));
  assert.equal(stopSourceLabel(early), "early_stopping");
  assert.equal(stopSourceLabel(null), "");
  assert.equal(stopReasonText(user), "user: stopped by user (at epoch 2, iteration 40)");
  assert.equal(stopReasonText(early), "early_stopping: no improvement (at epoch 5)");
});

test("hyper messages read as what was set and from which iteration", () => {
  assert.equal(hyperText({ values: { lr: 0.05 }, missing: [], iter: 123 }), "lr 0.05 from iteration 123");
  assert.equal(
    hyperText({ values: { lr: 0.1, momentum: 0.9 }, missing: [], iter: 7 }),
    "lr 0.1, momentum 0.9 from iteration 7",
  );
  assert.equal(
    hyperText({ values: { lr: 0.1 }, missing: ["momentum"], iter: 7 }),
    "lr 0.1 from iteration 7; momentum left alone: the optimizer has none",
  );
  assert.equal(
    hyperText({ values: {}, missing: ["momentum"], iter: 7 }),
    "momentum left alone: the optimizer has none",
  );
});

test("the current lr comes from a batch message or the end of an epoch's batch curve", () => {
  assert.equal(lastLearningRate({ type: "batch", iter: 3, lr: 0.5 }), 0.5);
  assert.equal(lastLearningRate({ type: "epoch", batches: { iter: [1, 2], lr: [0.5, 0.05] } }), 0.05);
  assert.equal(lastLearningRate({ type: "epoch", batches: { iter: [], lr: [] } }), null);
  assert.equal(lastLearningRate({ type: "batch", lr: null }), null);
});

test("a pause and its resume say where the loop holds; other statuses say nothing", () => {
  assert.equal(heldAt({ status: "paused", epoch: 1, iter: 130 }), "epoch 2, iteration 130");
  assert.equal(heldAt({ status: "running" }), "");
});
