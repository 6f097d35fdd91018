// Coalesces redraw requests: however many events arrive, `fn` runs at most once per scheduled
// animation frame and at least `minInterval` ms after its previous run. The clock and the
// scheduler are injectable so tests can drive time by hand.

function defaultNow() {
  return globalThis.performance ? globalThis.performance.now() : Date.now();
}

// requestAnimationFrame where there is one (a browser), a 16 ms timer otherwise (Node).
const hasRaf = typeof globalThis.requestAnimationFrame === "function";
const defaultSchedule = hasRaf ? (cb) => globalThis.requestAnimationFrame(cb) : (cb) => setTimeout(cb, 16);
const defaultCancel = hasRaf ? (h) => globalThis.cancelAnimationFrame(h) : (h) => clearTimeout(h);

export function createThrottle(fn, options = {}) {
  const {
    minInterval = 0,
    now = defaultNow,
    schedule = defaultSchedule,
    cancel = defaultCancel,
    onError = (e) => console.error("[echo_stream.preview] redraw failed", e),
  } = options;
  let handle = null;
  let last = -Infinity;
  let calls = 0;

  function run() {
    handle = null;
    calls++;
    last = now();
    try {
      fn();
    } catch (e) {
      // A failing draw must not stop later ones (or escape into ComfyUI's event loop).
      onError(e);
    }
  }

  function onFrame() {
    handle = null;
    // Too soon after the previous run: wait for a later frame.
    if (now() - last < minInterval) handle = schedule(onFrame);
    else run();
  }

  return {
    // Asks for one run; repeated requests before it happens are merged into it.
    request() {
      if (handle === null) handle = schedule(onFrame);
    },
    // Runs now (e.g. a user action that must show at once) and drops any pending request.
    flush() {
      if (handle !== null) cancel(handle);
      run();
    },
    cancel() {
      if (handle !== null) cancel(handle);
      handle = null;
    },
    get pending() {
      return handle !== null;
    },
    get calls() {
      return calls;
    },
  };
}
