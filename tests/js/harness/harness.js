// Browser harness for js/echo_stream_preview.js (run by tests/test_js_browser.py).
//
// It loads the extension the way ComfyUI does (as /extensions/<pack>/echo_stream_preview.js, so
// its "../../scripts/*.js" imports reach the stubs next to this file), creates fake nodes, calls
// the extension's hooks, feeds a scripted websocket session (an old session, then two queue runs
// of one continued session with start/smooth/cut/recall/auto scenes), pokes the controls, and
// writes a JSON summary of what the widgets drew into <pre id="summary">.

import { app } from "/scripts/app.js";
import { api } from "/scripts/api.js";
import { paintFrame } from "./frames.js";

// Headless Chromium under --virtual-time-budget issues (almost) no animation frames, so here
// frames come from a 16 ms timer, which virtual time does advance. The widget's throttle calls
// requestAnimationFrame at request time, so replacing it before the import is enough.
const rafTimers = new Map();
let rafIds = 0;
window.requestAnimationFrame = (cb) => {
  const id = ++rafIds;
  rafTimers.set(id, setTimeout(() => {
    rafTimers.delete(id);
    cb(performance.now());
  }, 16));
  return id;
};
window.cancelAnimationFrame = (id) => {
  clearTimeout(rafTimers.get(id));
  rafTimers.delete(id);
};

const errors = [];
window.addEventListener("error", (e) => errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));
const consoleError = console.error.bind(console);
console.error = (...args) => {
  errors.push(args.map(String).join(" "));
  consoleError(...args);
};
const warnings = [];
const consoleWarn = console.warn.bind(console);
console.warn = (...args) => {
  warnings.push(args.map(String).join(" "));
  consoleWarn(...args);
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));
async function frames(n) {
  for (let i = 0; i < n; i++) await nextFrame();
}

// A minimal LiteGraph-like node: enough of the API the extension uses.
function makeNode(id, comfyClass, { offstage = false, mounted = true } = {}) {
  const host = document.createElement("div");
  host.className = offstage ? "node offstage" : "node";
  const title = document.createElement("div");
  title.className = "node-title";
  title.innerHTML = "<i></i>";
  title.append(comfyClass === "EchoStreamingSampler" ? "Echo Streaming Sampler" : comfyClass);
  const body = document.createElement("div");
  body.className = "node-body";
  host.append(title, body);
  document.getElementById("stage").append(host);
  const node = {
    id,
    comfyClass,
    type: comfyClass,
    size: [300, 120],
    widgets: [],
    host,
    executedCalls: 0,
    removedCalls: 0,
    onExecuted() {
      this.executedCalls++;
    },
    onRemoved() {
      this.removedCalls++;
    },
    addDOMWidget(name, type, element, options) {
      const widget = { name, type, element, options };
      this.widgets.push(widget);
      if (mounted) body.append(element); // the Vue renderer may keep showing a removed node's element
      return widget;
    },
    computeSize() {
      const min = this.widgets.reduce((h, w) => h + (w.options?.getMinHeight?.() ?? 0), 0);
      return [this.size[0], 30 + 16 + min];
    },
    setSize(size) {
      this.size = size;
      host.style.width = `${size[0]}px`;
      body.style.height = `${size[1] - 30}px`;
    },
  };
  node.setSize(node.size);
  return node;
}

const sent = { run: 0, block: 0 };
const srcOf = new Map(); // session frame -> data URL sent, to check what the widget shows

function run(over) {
  sent.run++;
  api.deliver("echo_stream.run", {
    version: 1, node: "12", session: "default", run: "r1", phase: "start", continued: false,
    first_block: 0, run_blocks: 24, total_blocks: 24, frames_per_block: 3, fps: 16, frames_per_image: 4,
    scenes: [], ...over,
  });
}

function block(b, scene, look, over = {}) {
  const images = [];
  if (!over.throttled) {
    for (let i = 0; i < 3; i++) {
      const src = paintFrame(look, 3 * b + i);
      images.push(src);
      if ((over.session ?? "default") === "default") srcOf.set(3 * b + i, src);
    }
  }
  delete over.throttled;
  sent.block++;
  api.deliver("echo_stream.block", {
    version: 1, node: "12", session: "default", run: "r1", block: b, run_block: b, run_blocks: 24,
    total_blocks: 24, scene, images, image_frame: 3 * b,
    timing: { elapsed: 0.62 * (b + 1), blocks_per_second: 1.6, eta: 0.62 * (23 - b) }, ...over,
  });
}

const S = {
  beach: { index: 0, label: "beach", transition: "start" },
  forest: { index: 1, label: "forest", transition: "smooth" },
  city: { index: 2, label: "city", transition: "cut" },
  recall: { index: 3, label: "beach", transition: "recall" },
  auto: { index: 4, label: null, transition: "auto" },
};
const RUN1_SCENES = [
  { ...S.beach, start_block: 0, blocks: 12 },
  { ...S.forest, start_block: 12, blocks: 12 },
];
const RUN2_SCENES = [
  ...RUN1_SCENES,
  { ...S.city, start_block: 24, blocks: 10 },
  { ...S.recall, start_block: 34, blocks: 10 },
  { ...S.auto, start_block: 44, blocks: 8 },
];
const lookOf = (scene) => ({ 0: "beach", 1: "forest", 2: "city", 3: "beach", 4: "dusk" })[scene.index];
const sceneOf = (b, scenes) => scenes.find((s) => b >= s.start_block && b < s.start_block + s.blocks);

function click(el) {
  el.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, pointerId: 1 }));
  el.click();
}

function scrubTo(track, fraction) {
  const r = track.getBoundingClientRect();
  const opts = { bubbles: true, pointerId: 7, clientX: r.left + r.width * fraction, clientY: r.top + r.height / 2 };
  track.dispatchEvent(new PointerEvent("pointerdown", opts));
  track.dispatchEvent(new PointerEvent("pointerup", opts));
}

async function main() {
  const summary = { checks: {} };
  await import("/extensions/echo_stream/echo_stream_preview.js");
  const ext = app.extensions.find((e) => e.name === "echo_stream.preview");
  summary.extensions = app.extensions.map((e) => e.name);
  ext.setup?.(app);

  const nodeA = makeNode(12, "EchoStreamingSampler");
  const nodeB = makeNode(7, "EchoStreamingSampler", { offstage: true });
  const nodeC = makeNode(3, "KSampler", { offstage: true });
  const nodeD = makeNode(21, "EchoStreamingSampler", { offstage: true });
  for (const n of [nodeA, nodeB, nodeC, nodeD]) ext.nodeCreated(n, app);
  let canvasPointerDowns = 0;
  nodeA.host.addEventListener("pointerdown", () => canvasPointerDowns++);

  const wA = nodeA.widgets[0];
  const ui = wA.element;
  const $ = (sel) => ui.querySelector(sel);
  // The player is reachable from its element (for debugging in the browser console too).
  const player = () => ui.echoPlayer;
  summary.widget = {
    name: wA.name,
    type: wA.type,
    serialize: wA.options.serialize,
    minHeight: wA.options.getMinHeight(),
    nodeWidth: nodeA.size[0],
    widgetsOnOtherClass: nodeC.widgets.length,
  };

  // The node gets removed: its player must stop without errors when its events still arrive.
  nodeD.onRemoved();
  api.deliver("echo_stream.block", { version: 1, node: "21", session: "s", run: "x", block: 0, run_block: 0, run_blocks: 1,
    total_blocks: 1, scene: S.beach, images: [], image_frame: 0, timing: { elapsed: 1, blocks_per_second: 1, eta: 0 } });
  summary.checks.removedNodeChained = nodeD.removedCalls;

  // 1. An old session, then a new one: the widget resets.
  run({ session: "old", run: "o1", run_blocks: 3, total_blocks: 3, scenes: [{ ...S.forest, index: 0, start_block: 0, blocks: 3 }] });
  for (let b = 0; b < 3; b++) block(b, { ...S.forest, index: 0 }, "forest", { session: "old", run: "o1", run_blocks: 3, total_blocks: 3 });
  await frames(3);
  summary.oldSession = player().describe();

  run({ run: "r1", scenes: RUN1_SCENES });
  await frames(2);
  summary.afterReset = player().describe();

  // 2. Run 1: 24 blocks in one burst; the throttle must draw a few times, not 24.
  const drawsBefore = player().draws;
  for (let b = 0; b < 24; b++) {
    const scene = sceneOf(b, RUN1_SCENES);
    block(b, { index: scene.index, label: scene.label, transition: scene.transition }, lookOf(scene));
  }
  await frames(3);
  summary.burst = { events: 24, draws: player().draws - drawsBefore };

  // Malformed events are ignored without throwing: wrong version, missing timing, a bad image.
  const good = { node: "12", session: "default", run: "r1", block: 40, run_block: 40, run_blocks: 24, total_blocks: 99,
    scene: S.city, images: [], image_frame: 120, timing: { elapsed: 1, blocks_per_second: 1, eta: 1 } };
  api.deliver("echo_stream.block", { ...good, version: 2 });
  api.deliver("echo_stream.block", { ...good, version: 1, timing: undefined });
  api.deliver("echo_stream.block", { ...good, version: 1, images: ["javascript:alert(1)"] });
  api.deliver("echo_stream.run", { version: 1, node: "12" });
  api.deliver("echo_stream.run", null);
  await frames(2);
  summary.afterBadEvents = player().describe();

  run({ run: "r1", phase: "end", scenes: RUN1_SCENES });
  await frames(2);
  summary.run1End = player().describe();

  // The sampler's executed output: the saved animated WEBP becomes the "Final" view.
  nodeA.onExecuted({ images: [{ filename: "echo_default_00001.webp", subfolder: "echo", type: "temp" }], animated: [true] });
  summary.checks.originalOnExecutedCalled = nodeA.executedCalls;
  await frames(2);
  click($(".echo-pv-view-final"));
  await frames(1);
  summary.finalView = player().describe();
  click($(".echo-pv-view-frames"));

  // Routing: node 7 gets its own session; node 12 must not see it.
  api.deliver("echo_stream.run", { version: 1, node: "7", session: "other", run: "b1", phase: "start", continued: false,
    first_block: 0, run_blocks: 2, total_blocks: 2, frames_per_block: 3, fps: 16, frames_per_image: 4,
    scenes: [{ index: 0, label: "desert", transition: "start", start_block: 0, blocks: 2 }] });
  block(0, { index: 0, label: "desert", transition: "start" }, "dusk", { node: "7", session: "other", run: "b1", run_blocks: 2, total_blocks: 2 });

  // 3. Run 2 continues the session: cut, recall and auto scenes; blocks 30-31 arrive without
  // images (server-side throttling); generation is still going at block 38 of 52.
  run({ run: "r2", continued: true, first_block: 24, run_blocks: 28, total_blocks: 52, scenes: RUN2_SCENES });
  for (let b = 24; b <= 38; b++) {
    const scene = sceneOf(b, RUN2_SCENES);
    block(b, { index: scene.index, label: scene.label, transition: scene.transition }, lookOf(scene), {
      run: "r2", run_block: b - 24, run_blocks: 28, total_blocks: 52, throttled: b === 30 || b === 31,
      timing: { elapsed: 0.61 * (b - 23), blocks_per_second: 1.64, eta: (51 - b) / 1.64 },
    });
    if (b % 5 === 0) await frames(1);
  }
  await frames(3);
  summary.live = player().describe();
  summary.live.newestSentIsShown = summary.live.frameSrc === srcOf.get(38 * 3 + 2);

  // 4. Scrub to the middle of block 5, then into the image-less blocks 30-31.
  const track = $(".echo-pv-track");
  scrubTo(track, 5.5 / 52);
  await frames(1);
  summary.scrub = player().describe();
  summary.scrub.expectedSrc = summary.scrub.frameSrc === srcOf.get(summary.scrub.shownFrame);
  scrubTo(track, 30.5 / 52);
  await frames(1);
  summary.scrubThinned = player().describe();

  // 5. Play from block 5 for half a second at 16 fps: about two preview images further.
  scrubTo(track, 5.5 / 52);
  await frames(1);
  const startFrame = player().describe().shownFrame;
  click($(".echo-pv-play"));
  await frames(1);
  const t0 = performance.now();
  await sleep(500);
  await frames(2);
  summary.play = { ...player().describe(), startFrame, elapsedMs: performance.now() - t0 };
  click($(".echo-pv-play"));
  await frames(1);
  summary.paused = player().describe();

  // 6. Back to live: the newest frame again.
  click($(".echo-pv-live"));
  await frames(2);
  summary.final = player().describe();
  summary.final.newestSentIsShown = summary.final.frameSrc === srcOf.get(38 * 3 + 2);
  summary.other = nodeB.widgets[0].element.echoPlayer.describe();
  summary.canvasPointerDowns = canvasPointerDowns;

  // The node as a user would size it, for the screenshot (?width= tries other widths by hand).
  nodeA.setSize([Number(new URLSearchParams(location.search).get("width")) || 460, 400]);
  await frames(2);
  summary.layout = {
    width: ui.getBoundingClientRect().width,
    height: ui.getBoundingClientRect().height,
    screenHeight: $(".echo-pv-screen").getBoundingClientRect().height,
    overflowX: ui.scrollWidth > ui.clientWidth + 1,
  };
  // The classic renderer's slot for the widget: its minimum height less the margin above and below
  // (ComfyUI frontend 1.45); core's progress preview image is drawn right below it.
  const margin = wA.options.margin ?? 10;
  const slot = document.createElement("div");
  slot.style.cssText = `width: 460px; height: ${wA.options.getMinHeight() - 2 * margin}px; overflow: visible`;
  document.getElementById("stage").append(slot);
  const other = nodeB.widgets[0].element;
  slot.append(other);
  await frames(2);
  summary.classicSlot = { slot: slot.getBoundingClientRect().height, element: other.getBoundingClientRect().height,
                          contentBottom: Math.max(...[...other.children].map((c) => c.getBoundingClientRect().bottom))
                                         - slot.getBoundingClientRect().top };
  nodeB.host.querySelector(".node-body").append(other);

  // 7. Graph-aware routing: a sampler inside a subgraph (execution id "40:5") and a graph rebuilt in
  // place, as ComfyUI's loadApiJson does (same node id, the Vue node keeps the removed node's element).
  const graphOf = (nodes) => ({ nodes, getNodeById: (id) => nodes.find((n) => n.id === id) ?? null });
  const inner = makeNode(5, "EchoStreamingSampler", { offstage: true });
  const rootFive = makeNode(5, "EchoStreamingSampler", { offstage: true });
  const before = makeNode(30, "EchoStreamingSampler", { offstage: true });
  for (const n of [inner, rootFive, before]) ext.nodeCreated(n, app);
  const subgraph = graphOf([inner]);
  const root = graphOf([nodeA, nodeB, rootFive, before, { id: 40, subgraph }]);
  inner.graph = subgraph;
  for (const n of [nodeA, nodeB, rootFive, before]) n.graph = root;
  app.rootGraph = root;
  const tiny = (node, run, label) => ({ node, session: `s-${run}`, run, run_blocks: 1, total_blocks: 1,
    scenes: [{ index: 0, label, transition: "start", start_block: 0, blocks: 1 }] });
  run(tiny("40:5", "sub", "inside"));
  await frames(2);
  summary.subgraph = { inner: inner.widgets[0].element.echoPlayer.describe(),
                       rootFive: rootFive.widgets[0].element.echoPlayer.describe() };
  const staleElement = before.widgets[0].element;
  before.onRemoved();
  const after = makeNode(30, "EchoStreamingSampler", { offstage: true, mounted: false });
  ext.nodeCreated(after, app);
  after.graph = root;
  root.nodes.splice(root.nodes.indexOf(before), 1, after);
  run(tiny("30", "api", "reloaded"));
  await frames(2);
  const shown = after.host.querySelector(".node-body").firstElementChild ?? before.host.querySelector(".node-body .echo-pv");
  summary.rebuilt = { newElementShown: after.widgets[0].element.isConnected, staleElementGone: !staleElement.isConnected,
                      shown: shown ? shown.echoPlayer.describe() : null };

  // 8. The Final view plays the session's whole video from the server (nodes/routes.py), and the bar
  // scrubs it: node 7's session "other" ends with a 6-latent video (21 frames).
  api.deliver("echo_stream.run", { version: 1, node: "7", session: "other", run: "b1", phase: "end", continued: false,
    first_block: 0, run_blocks: 2, total_blocks: 2, frames_per_block: 3, fps: 16, frames_per_image: 4,
    scenes: [{ index: 0, label: "desert", transition: "start", start_block: 0, blocks: 2 }],
    video: { latent_frames: 6, first_image: 0 } });
  await frames(2);
  const elB = nodeB.widgets[0].element;
  click(elB.querySelector(".echo-pv-view-final"));
  await frames(1);
  scrubTo(elB.querySelector(".echo-pv-track"), 0.5);
  await frames(2);
  summary.sessionVideo = { ...elB.echoPlayer.describe(), currentTime: elB.querySelector("video").currentTime };

  summary.sent = sent;
  summary.errors = errors;
  summary.warnings = warnings;
  return summary;
}

main()
  .then((summary) => {
    document.getElementById("summary").textContent = JSON.stringify(summary);
    document.title = "done";
  })
  .catch((e) => {
    document.getElementById("summary").textContent = JSON.stringify({ fatal: String(e && e.stack ? e.stack : e), errors });
    document.title = "failed";
  });
