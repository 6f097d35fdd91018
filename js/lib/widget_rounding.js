// Float widgets that keep the values their node declares.
//
// ComfyUI's front end (1.45) derives a FLOAT widget's decimal places from its `step` alone (step 0.25
// gives one place) and, on every edit, rounds the value to `round` and then to those places: a
// quarter-second input with step 0.25 turns 0.75 into 0.8. The node declares `round` (0.25); giving the
// widget enough places for it keeps 0.75 as 0.75 in the classic and the Vue renderer alike.

// Decimal places needed to write `step` exactly (0.25 -> 2, 0.5 -> 1, 1 -> 0); null when not a number.
export function decimalsOf(step) {
  if (typeof step !== "number" || !Number.isFinite(step) || step <= 0) return null;
  for (let places = 0; places <= 6; places++) {
    if (Math.abs(Number(step.toFixed(places)) - step) < 1e-12) return places;
  }
  return 6;
}

// Raise each number widget's precision to what its `round` needs; returns the names changed.
export function keepDeclaredRounding(node) {
  const changed = [];
  for (const widget of node?.widgets ?? []) {
    const options = widget?.options;
    if (!options || typeof widget.value !== "number") continue;
    const needed = decimalsOf(options.round);
    if (needed === null) continue;
    if (typeof options.precision !== "number" || options.precision < needed) {
      options.precision = needed;
      changed.push(widget.name);
    }
  }
  return changed;
}
