import { test } from "node:test";
import assert from "node:assert/strict";
import { commandBody, commandMarkers, describeApplied, formatBytes, keyAction, sceneName } from "../../js/lib/steering_model.js";

test("live steer command bodies are checked like the server checks them", () => {
  assert.deepEqual(commandBody("  a  beach ", "cut", "b1"), { ok: true, value: { text: "a beach", transition: "cut", label: "b1" } });
  assert.deepEqual(commandBody("again", "recall", "", "2").value, { text: "again", transition: "recall", target: 2 });
  assert.deepEqual(commandBody("again", "smooth", "", "2").value, { text: "again", transition: "smooth" });
  assert.match(commandBody("", "cut").error, /type a prompt/);
  assert.match(commandBody("a | b", "cut").error, /leave out \|/);
  assert.match(commandBody("x".repeat(2001), "cut").error, /at most 2000/);
  assert.match(commandBody("a", "teleport").error, /unknown transition/);
  assert.match(commandBody("a", "cut", "../x").error, /label/);
});

test("live steer keyboard shortcuts", () => {
  const k = (key, mods = {}) => keyAction({ key, ...mods });
  assert.equal(k("Enter"), "smooth");
  assert.equal(k("Enter", { ctrlKey: true }), "cut");
  assert.equal(k("Enter", { metaKey: true }), "cut");
  assert.equal(k("Enter", { altKey: true }), "recall");
  assert.equal(k("Enter", { ctrlKey: true, shiftKey: true }), "auto");
  assert.equal(k("Enter", { shiftKey: true }), null);
  assert.equal(k("Escape"), "stop");
  assert.equal(k("a"), null);
});

test("live steer markers sit where each command took effect", () => {
  const applied = [{ id: "1", kind: "prompt", block: 5, transition: "cut", text: "city", label: "c", scene: 1 },
                   { id: "2", kind: "prompt", block: 7, error: "no scene" },
                   { id: "3", kind: "stop", block: 10 }];
  assert.deepEqual(commandMarkers(applied, 20).map((m) => [m.id, m.at]), [["1", 0.25], ["3", 0.5]]);
  assert.equal(commandMarkers(applied, 20)[0].title, 'block 5: cut "city" {c}');
  assert.equal(describeApplied({ kind: "prompt", block: 5, transition: "cut", scene: 1, latency_blocks: 0, latency_ms: 180.4 }),
               "block 5: cut \u2192 scene 1, 0 blocks / 180 ms");
  assert.equal(describeApplied(applied[1]), "prompt refused: no scene");
  assert.equal(formatBytes(3 * 1024 * 1024), "3.0 MiB");
  assert.equal(sceneName({ index: 2, label: "dawn", text: "a beach" }), "2 {dawn} a beach");
});
