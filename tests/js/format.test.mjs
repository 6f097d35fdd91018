import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBlockCounter, formatClock, formatEta, formatPhase, formatRate, statusParts } from "../../js/lib/format.js";
import { Timeline } from "../../js/lib/timeline.js";

test("clock, rate and ETA text", () => {
  assert.equal(formatClock(0), "0:00");
  assert.equal(formatClock(75.9), "1:15");
  assert.equal(formatClock(3600 + 62), "1:01:02");
  assert.equal(formatClock(NaN), "\u2013:\u2013\u2013");
  assert.equal(formatRate(1.64), "1.6 blocks/s");
  assert.equal(formatRate(0.456), "0.46 blocks/s");
  assert.equal(formatRate(12.3), "12 blocks/s");
  assert.equal(formatRate(null), "\u2013 blocks/s");
  assert.equal(formatEta(20.2), "ETA 0:21");
  assert.equal(formatEta(null), "ETA \u2013");
  assert.equal(formatBlockCounter(18, 40), "block 18 / 40");
  assert.equal(formatPhase("error", "boom"), "error: boom");
});

test("status parts show rate and ETA only while running", () => {
  const tl = new Timeline();
  tl.phase = "running";
  tl.generatedBlocks = 18;
  tl.totalBlocks = 40;
  tl.timing = { elapsed: 11, blocks_per_second: 1.6, eta: 13.75 };
  tl.runs = ["a", "b"];
  assert.deepEqual(statusParts(tl), { counter: "block 18 / 40", rate: "1.6 blocks/s", eta: "ETA 0:14", phase: "generating", runs: 2 });
  tl.phase = "end";
  assert.equal(statusParts(tl).eta, "");
  assert.equal(statusParts(tl).phase, "done");
});
