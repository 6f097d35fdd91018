// ComfyUI front-end extension of Echo Stream: a live long-video player inside every
// EchoStreamingSampler node, fed by the sampler's `echo_stream.run` / `echo_stream.block`
// websocket events (docs/preview_events.md) and by its final `executed` output.
//
// ComfyUI imports every .js under js/ as a module; this is the only one with side effects
// (registering the extension). The logic lives in js/lib/, which has no side effects.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { parseBlockEvent, parseExecutedOutput, parseRunEvent } from "./lib/payload.js";
import { MIN_HEIGHT, PlayerWidget } from "./lib/player_widget.js";
import { SteeringPanel } from "./lib/steering_panel.js";
import { playersForExecutionId, RetiredElements } from "./lib/routing.js";
import { keepDeclaredRounding } from "./lib/widget_rounding.js";

const NODE_CLASS = "EchoStreamingSampler";
const WIDGET_NAME = "echo_preview";
const DEFAULT_WIDTH = 460;
// The classic renderer places a DOM widget's element inside its slot less this margin above and below
// (ComfyUI frontend 1.45, BaseDOMWidgetImpl.DEFAULT_MARGIN) and draws core's progress preview image right
// after the slot: the slot must hold the player's whole minimum height, or its status line ends up
// under that image.
const DOM_MARGIN = 10;

// node -> PlayerWidget for every live sampler node in the page (several graphs, subgraphs).
const players = new Map();
// Elements of removed samplers' players that the Vue renderer may still show (lib/routing.js).
const retired = new RetiredElements();

// Warn once per distinct problem: a misconfigured server would otherwise flood the console.
const warned = new Set();
function warn(kind, error) {
  const key = `${kind}: ${error}`;
  if (warned.has(key) || warned.size > 50) return;
  warned.add(key);
  console.warn(`[echo_stream.preview] ignored ${kind} event (${error})`);
}

function apiURL(path) {
  return typeof api.apiURL === "function" ? api.apiURL(path) : `/api${path}`;
}

// An event's node is an execution id ("6", or "12:5" inside a subgraph), resolved at event time from
// the root graph: a node created from the menu or by an API-format load gets its id after nodeCreated.
function playersFor(nodeId) {
  const found = playersForExecutionId(players, app.rootGraph ?? app.graph, nodeId);
  for (const [node, player] of found) {
    retired.adopt(player.element, node.graph, node.id);
  }
  return found.map(([, player]) => player);
}

function route(kind, parse, handle) {
  return (event) => {
    try {
      const parsed = parse(event?.detail);
      if (!parsed.ok) return warn(kind, parsed.error);
      for (const player of playersFor(parsed.value.node)) handle(player, parsed.value);
    } catch (e) {
      // Never throw into ComfyUI's websocket dispatch.
      console.error(`[echo_stream.preview] ${kind} handler failed`, e);
    }
  };
}

function isSampler(node) {
  return node?.comfyClass === NODE_CLASS || node?.type === NODE_CLASS;
}

function chain(node, method, after) {
  const original = node[method];
  node[method] = function (...args) {
    const result = original?.apply(this, args);
    try {
      after.apply(this, args);
    } catch (e) {
      console.error(`[echo_stream.preview] ${method} failed`, e);
    }
    return result;
  };
}

function attach(node) {
  const player = new PlayerWidget({ document, apiURL });
  node.addDOMWidget(WIDGET_NAME, WIDGET_NAME, player.element, {
    serialize: false, // the preview is not part of the workflow
    hideOnZoom: false,
    margin: DOM_MARGIN,
    getMinHeight: () => MIN_HEIGHT + 2 * DOM_MARGIN,
  });
  players.set(node, player);
  attachSteering(node, player);

  // The sampler's ui output: the saved animated WEBP of the run, offered as the "Final" view.
  chain(node, "onExecuted", (output) => {
    const parsed = parseExecutedOutput(output);
    if (parsed.ok) player.handleExecuted(parsed.value);
  });
  chain(node, "onRemoved", () => {
    player.destroy();
    players.delete(node);
    retired.retire(player.element, node.graph, node.id);
  });

  // Wide enough for the timeline labels; a saved workflow's size is applied after this.
  if (Array.isArray(node.size) && node.size[0] < DEFAULT_WIDTH) {
    const height = typeof node.computeSize === "function" ? node.computeSize()[1] : node.size[1];
    if (typeof node.setSize === "function") node.setSize([DEFAULT_WIDTH, Math.max(node.size[1], height)]);
  }
}

const STEERING_MIN_HEIGHT = 190;

// The live-steering controls under the player (js/lib/steering_panel.js); they follow the player's runs.
function attachSteering(node, player) {
  const sessionName = () => node.widgets?.find((w) => w.name === "session")?.value ?? "default";
  const panel = new SteeringPanel({ document, fetch: (url, init) => fetch(url, init), apiURL, sessionName });
  node.addDOMWidget("echo_steering", "echo_steering", panel.element, { serialize: false, hideOnZoom: false,
    margin: DOM_MARGIN, getMinHeight: () => STEERING_MIN_HEIGHT + 2 * DOM_MARGIN });
  chain(player, "handleRun", (ev) => panel.handleRun(ev));
  chain(node, "onRemoved", () => panel.destroy());
}

app.registerExtension({
  name: "echo_stream.preview",

  setup() {
    // Registering the listeners also tells ComfyUI's client these custom event types exist.
    api.addEventListener("echo_stream.run", route("run", parseRunEvent, (p, ev) => p.handleRun(ev)));
    api.addEventListener("echo_stream.block", route("block", parseBlockEvent, (p, ev) => p.handleBlock(ev)));
  },

  nodeCreated(node) {
    // Quarter-second inputs stay on quarter seconds (the front end would show and keep one decimal).
    if (String(node?.comfyClass ?? node?.type ?? "").startsWith("Echo")) keepDeclaredRounding(node);
    if (!isSampler(node)) return;
    try {
      attach(node);
    } catch (e) {
      console.error("[echo_stream.preview] could not add the preview widget", e);
    }
  },
});
