// Colours of the scene transitions on the timeline. Chosen to stay distinct on ComfyUI's dark
// theme and for the common colour-vision deficiencies (blue / green / red / purple / amber differ
// in lightness as well as hue).

export const TRANSITION_COLORS = Object.freeze({
  start: "#4c8df6",
  smooth: "#35b27a",
  cut: "#e5534b",
  recall: "#a371f7",
  auto: "#d9a520",
});

// A transition this version does not know (a newer Python side) still gets drawn, in grey.
export const UNKNOWN_TRANSITION_COLOR = "#8b949e";

// Legend order: the order a session usually meets them in.
export const LEGEND = Object.freeze(["start", "smooth", "cut", "recall", "auto"]);

export function transitionColor(transition) {
  return Object.prototype.hasOwnProperty.call(TRANSITION_COLORS, transition)
    ? TRANSITION_COLORS[transition]
    : UNKNOWN_TRANSITION_COLOR;
}

function named(label) {
  return typeof label === "string" && label !== "";
}

// The text shown for a scene: its label; for a recall without one, the label of the scene it returns
// to (else that scene's "scene N"); else "scene N" with N the session-wide scene index (the same index
// the sampler accepts for a recall).
export function sceneTitle(scene) {
  if (scene && named(scene.label)) return scene.label;
  const target = scene?.recalls;
  if (target && typeof target.index === "number") return named(target.label) ? target.label : `scene ${target.index}`;
  return `scene ${scene ? scene.index : "?"}`;
}
