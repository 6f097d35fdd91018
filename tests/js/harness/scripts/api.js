// Stand-in for ComfyUI's scripts/api.js shim: an EventTarget that delivers websocket messages as
// CustomEvents carrying the payload in `detail`, as ComfyUI's api does.
class StubApi extends EventTarget {
  apiURL(path) {
    return `/api${path}`;
  }

  // What ComfyUI does with a {"type", "data"} websocket message of a registered custom type.
  deliver(type, data) {
    this.dispatchEvent(new CustomEvent(type, { detail: data }));
  }
}

export const api = new StubApi();
