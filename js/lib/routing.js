// Which widget an event's `node` belongs to, and keeping the widget on screen when the front end
// rebuilds a graph in place. Pure logic over graph-like and element-like objects (no DOM, no ComfyUI).

// ComfyUI names a node inside a subgraph by its execution id: the ids of the subgraph nodes on the
// way down, then its own, joined by ":" ("12:5" is node 5 inside the subgraph of root node 12).
export function executionPath(id) {
  return String(id).split(":").filter((part) => part !== "");
}

function nodeById(graph, id) {
  if (!graph || typeof graph.getNodeById !== "function") return null;
  return graph.getNodeById(/^\d+$/.test(id) ? Number(id) : id) ?? graph.getNodeById(id) ?? null;
}

// The node an execution id names, walking down from the root graph; null when the path does not
// resolve (the graph on screen is not the one that runs, or no graph yet).
export function resolveExecutionNode(rootGraph, executionId) {
  const path = executionPath(executionId);
  if (path.length === 0) return null;
  let graph = rootGraph;
  for (const id of path.slice(0, -1)) {
    graph = nodeById(graph, id)?.subgraph;
    if (!graph) return null;
  }
  return nodeById(graph, path[path.length - 1]);
}

// The [node, player] entries of `players` (a Map node -> player) an event for `executionId` goes to:
// the node the id resolves to in `rootGraph`; without a resolvable graph, a plain id matches nodes by
// id (a nested id then never matches a root node that merely shares its last part).
export function playersForExecutionId(players, rootGraph, executionId) {
  const node = resolveExecutionNode(rootGraph, executionId);
  if (node) return players.has(node) ? [[node, players.get(node)]] : [];
  const path = executionPath(executionId);
  if (path.length !== 1) return [];
  return [...players].filter(([candidate]) => String(candidate.id) === path[0]);
}

// When the Vue renderer's graph is rebuilt in place (ComfyUI's loadApiJson clears the graph and adds
// nodes with the same ids), the Vue node for an id is reused and keeps showing the removed node's
// widget element; the new node's element is never mounted. Removed players' elements are remembered
// here, and a live player whose element is off-screen takes the place of the stale one it replaces.
export class RetiredElements {
  constructor(limit = 64) {
    this.limit = limit;
    this.entries = []; // {element, graph, id}
  }

  retire(element, graph, id) {
    this.entries.push({ element, graph, id: String(id) });
    if (this.entries.length > this.limit) this.entries.shift();
  }

  // Puts `element` where a stale element of the same node (same graph, same id) is still shown;
  // returns whether it did.
  adopt(element, graph, id) {
    if (!element || element.isConnected) return false;
    this.entries = this.entries.filter((e) => e.element.isConnected);
    const index = this.entries.findIndex((e) => e.graph === graph && e.id === String(id));
    if (index < 0) return false;
    const [stale] = this.entries.splice(index, 1);
    stale.element.replaceWith(element);
    return true;
  }
}
