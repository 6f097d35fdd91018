import { test } from "node:test";
import assert from "node:assert/strict";
import { createThrottle } from "../../js/lib/throttle.js";

// A fake animation-frame clock: frame() advances time and runs what was scheduled.
function fakeClock(frameMs = 16) {
  let t = 0;
  let queue = [];
  let nextId = 1;
  return {
    now: () => t,
    schedule(cb) {
      const id = nextId++;
      queue.push({ id, cb });
      return id;
    },
    cancel(id) {
      queue = queue.filter((e) => e.id !== id);
    },
    frame() {
      t += frameMs;
      const due = queue;
      queue = [];
      for (const e of due) e.cb(t);
    },
    advance(ms) {
      t += ms;
    },
    get queued() {
      return queue.length;
    },
  };
}

test("many requests within one frame give one call", () => {
  const clock = fakeClock();
  let calls = 0;
  const th = createThrottle(() => calls++, clock);
  for (let i = 0; i < 1000; i++) th.request();
  assert.equal(calls, 0, "nothing runs synchronously");
  assert.equal(clock.queued, 1, "one frame scheduled");
  clock.frame();
  assert.equal(calls, 1);
  clock.frame();
  assert.equal(calls, 1, "no request, no call");
  th.request();
  clock.frame();
  assert.equal(calls, 2);
});

test("minInterval spaces the calls under a steady stream of requests", () => {
  const clock = fakeClock(16);
  let calls = 0;
  const th = createThrottle(() => calls++, { ...clock, minInterval: 100 });
  // Events every frame for one second (about 62 frames).
  for (let i = 0; i < 62; i++) {
    th.request();
    clock.frame();
  }
  assert.ok(calls >= 8 && calls <= 11, `${calls} calls in ~1 s at >= 100 ms apart`);
  assert.equal(th.calls, calls);
});

test("flush runs at once and drops the pending request; cancel drops it", () => {
  const clock = fakeClock();
  let calls = 0;
  const th = createThrottle(() => calls++, clock);
  th.request();
  th.flush();
  assert.equal(calls, 1);
  assert.equal(clock.queued, 0);
  th.request();
  assert.equal(th.pending, true);
  th.cancel();
  clock.frame();
  assert.equal(calls, 1);
  assert.equal(th.pending, false);
});

test("an error in the callback is reported and later calls still happen", () => {
  const clock = fakeClock();
  const errors = [];
  let calls = 0;
  const th = createThrottle(() => {
    calls++;
    if (calls === 1) throw new Error("draw failed");
  }, { ...clock, onError: (e) => errors.push(e.message) });
  th.request();
  clock.frame();
  th.request();
  clock.frame();
  assert.equal(calls, 2);
  assert.deepEqual(errors, ["draw failed"]);
});

test("without injected scheduling it falls back to timers in Node", async () => {
  let calls = 0;
  const th = createThrottle(() => calls++);
  th.request();
  th.request();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, 1);
});
