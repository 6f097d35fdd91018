// Parsing of the sampler's websocket events (`echo_stream.run`, `echo_stream.block`) and of its
// `executed` ui output; the shapes are documented in docs/preview_events.md.
//
// Every parser returns {ok: true, value} with a normalised copy, or {ok: false, error} naming the
// first bad field. Nothing here throws: the handlers run inside ComfyUI's websocket dispatch, and
// one malformed event must not break it.

import { parseVideoField } from "./session_video.js";

export const PAYLOAD_VERSION = 1;
export const RUN_PHASES = Object.freeze(["start", "end", "interrupted", "error"]);

// Preview images are inline data URLs; anything else (a remote URL, script) is refused.
const DATA_IMAGE = /^data:image\/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/=]+$/;

class PayloadError extends Error {}

function fail(field, why) {
  throw new PayloadError(`${field}: ${why}`);
}

function isObject(x) {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function count(obj, field, min = 0) {
  const v = obj[field];
  if (v === undefined) fail(field, "missing");
  if (!Number.isInteger(v) || v < min) fail(field, `expected an integer >= ${min}`);
  return v;
}

function text(obj, field, { allowEmpty = false } = {}) {
  const v = obj[field];
  if (v === undefined) fail(field, "missing");
  if (typeof v !== "string" || (!allowEmpty && v === "")) fail(field, "expected a non-empty string");
  return v;
}

// Node ids arrive as strings; a number is accepted and converted, so routing can compare strings.
function nodeId(obj) {
  const v = obj.node;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return String(v);
  return text(obj, "node");
}

function positive(obj, field) {
  const v = obj[field];
  if (v === undefined) fail(field, "missing");
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) fail(field, "expected a number > 0");
  return v;
}

// A timing value may be null (not known yet, e.g. the ETA before the second block).
function optionalSeconds(obj, field) {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(field, "expected a number >= 0 or null");
  return v;
}

function label(obj, field) {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") fail(field, "expected a string or null");
  const trimmed = v.trim();
  return trimmed === "" ? null : trimmed;
}

// A recall's named target, {index, label}, or null when the event names none (older servers, a recall
// by similarity, any other transition).
function recalls(obj) {
  const v = obj.recalls;
  if (v === undefined || v === null) return null;
  if (!isObject(v)) fail("recalls", "expected an object or null");
  return { index: count(v, "index"), label: label(v, "label") };
}

// Only scenes that recall a named scene carry the field.
function withRecalls(scene, obj) {
  const target = recalls(obj);
  return target ? { ...scene, recalls: target } : scene;
}

// Unknown transition names are kept (drawn grey) so a newer Python side still renders.
function transition(obj, field) {
  return text(obj, field).toLowerCase();
}

function header(d) {
  if (!isObject(d)) fail("event", "expected an object");
  if (d.version !== PAYLOAD_VERSION) fail("version", `expected ${PAYLOAD_VERSION}, got ${JSON.stringify(d.version)}`);
  return { node: nodeId(d), session: text(d, "session"), run: text(d, "run") };
}

function sceneEntry(s, i) {
  const where = `scenes[${i}]`;
  if (!isObject(s)) fail(where, "expected an object");
  try {
    return withRecalls({
      index: count(s, "index"),
      label: label(s, "label"),
      transition: transition(s, "transition"),
      start_block: count(s, "start_block"),
      blocks: count(s, "blocks"),
    }, s);
  } catch (e) {
    if (e instanceof PayloadError) fail(where, e.message);
    throw e;
  }
}

function guard(parse) {
  return (d) => {
    try {
      return { ok: true, value: parse(d) };
    } catch (e) {
      return { ok: false, error: e instanceof PayloadError ? e.message : `unexpected: ${e}` };
    }
  };
}

export const parseRunEvent = guard((d) => {
  const base = header(d);
  const phase = text(d, "phase");
  if (!RUN_PHASES.includes(phase)) fail("phase", `expected one of ${RUN_PHASES.join("/")}`);
  if (typeof d.continued !== "boolean") fail("continued", "expected a boolean");
  if (!Array.isArray(d.scenes)) fail("scenes", "expected an array");
  const scenes = d.scenes.map(sceneEntry).sort((a, b) => a.start_block - b.start_block);
  let message = null;
  if (phase === "error" && d.message !== undefined && d.message !== null) {
    if (typeof d.message !== "string") fail("message", "expected a string");
    message = d.message;
  }
  let video;
  try {
    video = parseVideoField(d.video);
  } catch (e) {
    fail("video", e.message.replace(/^video: /, ""));
  }
  return {
    ...base,
    phase,
    continued: d.continued,
    first_block: count(d, "first_block"),
    run_blocks: count(d, "run_blocks"),
    total_blocks: count(d, "total_blocks"),
    frames_per_block: count(d, "frames_per_block", 1),
    fps: positive(d, "fps"),
    frames_per_image: count(d, "frames_per_image", 1),
    scenes,
    message,
    video,
  };
});

export const parseBlockEvent = guard((d) => {
  const base = header(d);
  if (!isObject(d.scene)) fail("scene", d.scene === undefined ? "missing" : "expected an object");
  let scene;
  try {
    scene = withRecalls({ index: count(d.scene, "index"), label: label(d.scene, "label"),
                          transition: transition(d.scene, "transition") }, d.scene);
  } catch (e) {
    if (e instanceof PayloadError) fail("scene", e.message);
    throw e;
  }
  if (!Array.isArray(d.images)) fail("images", d.images === undefined ? "missing" : "expected an array");
  d.images.forEach((img, i) => {
    if (typeof img !== "string" || !DATA_IMAGE.test(img)) fail(`images[${i}]`, "expected a base64 data:image URL");
  });
  // image_frame locates images[0]; without images the server may leave it out.
  const hasFrame = d.image_frame !== undefined && d.image_frame !== null;
  const imageFrame = d.images.length > 0 || hasFrame ? count(d, "image_frame") : null;
  if (!isObject(d.timing)) fail("timing", d.timing === undefined ? "missing" : "expected an object");
  let timing;
  try {
    timing = {
      elapsed: optionalSeconds(d.timing, "elapsed"),
      blocks_per_second: optionalSeconds(d.timing, "blocks_per_second"),
      eta: optionalSeconds(d.timing, "eta"),
    };
  } catch (e) {
    if (e instanceof PayloadError) fail("timing", e.message);
    throw e;
  }
  return {
    ...base,
    block: count(d, "block"),
    run_block: count(d, "run_block"),
    run_blocks: count(d, "run_blocks"),
    total_blocks: count(d, "total_blocks"),
    scene,
    images: d.images.slice(),
    image_frame: imageFrame,
    timing,
  };
});

// The sampler's ui output: {images: [{filename, subfolder, type}], animated: [true]}.
export const parseExecutedOutput = guard((output) => {
  if (!isObject(output)) fail("output", "expected an object");
  if (!Array.isArray(output.images) || output.images.length === 0) fail("images", "expected a non-empty array");
  const file = output.images[0];
  if (!isObject(file)) fail("images[0]", "expected an object");
  const subfolder = file.subfolder === undefined || file.subfolder === null ? "" : file.subfolder;
  if (typeof subfolder !== "string") fail("images[0].subfolder", "expected a string");
  const type = file.type === undefined || file.type === null ? "output" : file.type;
  if (typeof type !== "string") fail("images[0].type", "expected a string");
  const animated = Array.isArray(output.animated) && output.animated.some(Boolean);
  return { filename: text(file, "filename"), subfolder, type, animated };
});

// The path of a saved file under ComfyUI's /view route, before the API prefix is added
// (api.apiURL turns "/view?..." into "/api/view?...").
export function viewPath(file) {
  const q = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
  return `/view?${q.toString()}`;
}
