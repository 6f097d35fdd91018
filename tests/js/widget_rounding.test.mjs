import { test } from "node:test";
import assert from "node:assert/strict";
import { decimalsOf, keepDeclaredRounding } from "../../js/lib/widget_rounding.js";

// What ComfyUI frontend 1.45 runs when a FLOAT widget changes (onFloatValueChange in its bundle):
// round to options.round, then to options.precision decimal places.
function frontendFloatChange(widget, value) {
  const { round, precision } = widget.options;
  const places = precision ?? Math.max(0, -Math.floor(Math.log10(round)));
  widget.value = Number((Math.round(value / round) * round).toFixed(places));
}

// A seconds widget as 1.45 builds it from {"step": 0.25, "round": 0.25}: places from the step (1).
const secondsWidget = () => ({ name: "seconds", value: 10, options: { round: 0.25, step: 2.5, step2: 0.25, precision: 1 } });

test("decimal places of a step", () => {
  assert.equal(decimalsOf(0.25), 2);
  assert.equal(decimalsOf(0.5), 1);
  assert.equal(decimalsOf(1), 0);
  assert.equal(decimalsOf(0.05), 2);
  assert.equal(decimalsOf(undefined), null);
  assert.equal(decimalsOf(0), null);
});

test("without the fix the front end turns 0.75 s into 0.8 s", () => {
  const widget = secondsWidget();
  frontendFloatChange(widget, 0.75);
  assert.equal(widget.value, 0.8);
});

test("with the declared rounding kept, quarter seconds stay quarter seconds", () => {
  const node = { widgets: [secondsWidget(), { name: "label", value: "", options: {} },
                           { name: "cfg", value: 1, options: { round: 0.01, precision: 2 } }] };
  assert.deepEqual(keepDeclaredRounding(node), ["seconds"]);
  const widget = node.widgets[0];
  for (const [typed, kept] of [[0.75, 0.75], [1.25, 1.25], [10.3, 10.25], [2.9, 3]]) {
    frontendFloatChange(widget, typed);
    assert.equal(widget.value, kept, `${typed}`);
  }
  assert.deepEqual(keepDeclaredRounding(node), [], "a second call changes nothing");
  assert.deepEqual(keepDeclaredRounding({}), []);
});
