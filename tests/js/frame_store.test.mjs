import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CAPACITY, FrameStore } from "../../js/lib/frame_store.js";

const src = (f) => `data:image/jpeg;base64,${f}`;

test("frames are kept in order; a repeated frame replaces the old image", () => {
  const store = new FrameStore(8);
  for (const f of [0, 1, 2, 5, 4, 3]) store.put(f, src(f));
  assert.deepEqual(store.frames, [0, 1, 2, 3, 4, 5]);
  store.put(4, "data:image/png;base64,new");
  assert.equal(store.size, 6);
  assert.equal(store.nearest(4).src, "data:image/png;base64,new");
});

test("nearest picks the closest kept frame, the earlier one on a tie", () => {
  const store = new FrameStore(8);
  assert.equal(store.nearest(3), null);
  for (const f of [10, 20, 30]) store.put(f, src(f));
  assert.equal(store.nearest(0).frame, 10);
  assert.equal(store.nearest(14).frame, 10);
  assert.equal(store.nearest(15).frame, 10);
  assert.equal(store.nearest(16).frame, 20);
  assert.equal(store.nearest(20).frame, 20);
  assert.equal(store.nearest(99).frame, 30);
  assert.equal(store.nearest(29).src, src(30));
});

test("over capacity the oldest half is thinned and the newest half stays", () => {
  const store = new FrameStore(8);
  for (let f = 0; f < 9; f++) store.put(f, src(f));
  // 9 frames, oldest half = first 4: frames 1 and 3 go.
  assert.deepEqual(store.frames, [0, 2, 4, 5, 6, 7, 8]);
  assert.equal(store.thinnings, 1);
});

test("truncateFrom forgets frames that will be generated again", () => {
  const store = new FrameStore(16);
  for (let f = 0; f < 10; f++) store.put(f, src(f));
  store.truncateFrom(6);
  assert.deepEqual(store.frames, [0, 1, 2, 3, 4, 5]);
  assert.equal(store.newest().frame, 5);
  assert.equal(store.has(6), false);
});

test("an hour of video stays bounded, recent frames dense, lookups right", () => {
  const images = (16 * 3600) / 4; // 16 fps for an hour, one preview image per 4 video frames
  assert.equal(images, 14400);
  const store = new FrameStore(DEFAULT_CAPACITY);
  let maxSize = 0;
  for (let f = 0; f < images; f++) {
    store.put(f, src(f));
    maxSize = Math.max(maxSize, store.size);
  }
  assert.ok(maxSize <= DEFAULT_CAPACITY, `size peaked at ${maxSize}`);
  assert.ok(store.size >= DEFAULT_CAPACITY / 2, "thinning does not empty the store");

  // The newest half of the capacity is every frame, unthinned.
  const dense = DEFAULT_CAPACITY / 2;
  const tail = store.frames.slice(-dense);
  assert.deepEqual(tail, Array.from({ length: dense }, (_, i) => images - dense + i));
  assert.equal(store.newest().frame, images - 1);
  assert.equal(store.oldest().frame, 0, "the start of the session is still there");

  // Sorted, unique, each image still belongs to its frame.
  for (let i = 1; i < store.size; i++) assert.ok(store.frames[i] > store.frames[i - 1]);
  store.frames.forEach((f, i) => assert.equal(store.srcs[i], src(f)));

  // Any frame of the hour resolves to the kept frame at minimal distance.
  for (let q = 0; q < images; q += 37) {
    const hit = store.nearest(q);
    const best = Math.min(...store.frames.map((f) => Math.abs(f - q)));
    assert.equal(Math.abs(hit.frame - q), best, `frame ${q}`);
    assert.equal(hit.src, src(hit.frame));
  }
});

test("bad capacities are refused", () => {
  assert.throws(() => new FrameStore(2), RangeError);
  assert.throws(() => new FrameStore(10.5), RangeError);
});
