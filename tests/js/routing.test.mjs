import { test } from "node:test";
import assert from "node:assert/strict";
import { executionPath, playersForExecutionId, resolveExecutionNode, RetiredElements } from "../../js/lib/routing.js";

const graphOf = (nodes) => ({ nodes, getNodeById: (id) => nodes.find((n) => n.id === id) ?? null });

function tree() {
  const inner = { id: 5 };
  const deeper = { id: 2 };
  const sub2 = graphOf([deeper]);
  const sub = graphOf([inner, { id: 9, subgraph: sub2 }]);
  const rootFive = { id: 5 };
  const root = graphOf([rootFive, { id: 12, subgraph: sub }, { id: 3 }]);
  return { root, inner, deeper, rootFive };
}

test("execution ids name nodes down through subgraphs", () => {
  const { root, inner, deeper, rootFive } = tree();
  assert.deepEqual(executionPath("12:9:2"), ["12", "9", "2"]);
  assert.equal(resolveExecutionNode(root, "5"), rootFive);
  assert.equal(resolveExecutionNode(root, "12:5"), inner);
  assert.equal(resolveExecutionNode(root, "12:9:2"), deeper);
  assert.equal(resolveExecutionNode(root, "3:5"), null, "node 3 has no subgraph");
  assert.equal(resolveExecutionNode(root, "12:7"), null);
  assert.equal(resolveExecutionNode(null, "5"), null);
  assert.equal(resolveExecutionNode(root, ""), null);
});

test("an event goes to the player of the node its id resolves to, and only that one", () => {
  const { root, inner, rootFive } = tree();
  const players = new Map([[inner, "inner"], [rootFive, "root five"]]);
  assert.deepEqual(playersForExecutionId(players, root, "12:5"), [[inner, "inner"]]);
  assert.deepEqual(playersForExecutionId(players, root, "5"), [[rootFive, "root five"]]);
  assert.deepEqual(playersForExecutionId(players, root, "12:9:2"), [], "resolved, but no widget there");
});

test("without a graph, a plain id matches by id and a nested id matches nothing", () => {
  const a = { id: 5 };
  const players = new Map([[a, "a"], [{ id: 6 }, "b"]]);
  assert.deepEqual(playersForExecutionId(players, undefined, "5"), [[a, "a"]]);
  assert.deepEqual(playersForExecutionId(players, undefined, "12:5"), []);
});

function element(connected) {
  const e = { isConnected: connected, replacedBy: null };
  e.replaceWith = (other) => { e.isConnected = false; other.isConnected = true; e.replacedBy = other; };
  return e;
}

test("a live widget takes the place of the removed node's element still on screen", () => {
  const retired = new RetiredElements();
  const graph = {};
  const stale = element(true);
  const elsewhere = element(true);
  retired.retire(stale, graph, 6);
  retired.retire(elsewhere, {}, 6); // same id in another graph
  const fresh = element(false);
  assert.equal(retired.adopt(fresh, graph, "6"), true);
  assert.equal(stale.replacedBy, fresh);
  assert.equal(fresh.isConnected, true);
  assert.equal(elsewhere.replacedBy, null);
  assert.equal(retired.adopt(element(false), graph, 6), false, "used once");
  assert.equal(retired.adopt(element(true), {}, 6), false, "an element on screen stays where it is");
});

test("retired elements that left the page are forgotten, and the list is bounded", () => {
  const retired = new RetiredElements(2);
  const graph = {};
  for (let i = 0; i < 5; i++) retired.retire(element(true), graph, i);
  assert.equal(retired.entries.length, 2);
  retired.entries[0].element.isConnected = false;
  assert.equal(retired.adopt(element(false), graph, 3), false);
  assert.equal(retired.entries.length, 1);
});
