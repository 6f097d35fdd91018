import { test } from "node:test";
import assert from "node:assert/strict";
import { SessionVideoMap, parseVideoField, sessionVideoPath } from "../../js/lib/session_video.js";
import { Timeline } from "../../js/lib/timeline.js";
import { parseRunEvent } from "../../js/lib/payload.js";
import { runEvent } from "./fixtures.mjs";

test("a session video from latent 0 maps video time 1:1 onto the timeline's 4T - 3 frames", () => {
  const map = new SessionVideoMap({ latentFrames: 12, firstImage: 0 });
  const tl = new Timeline();
  assert.equal(map.frames, tl.videoFramesOf(12)); // 45 = 4 * 12 - 3
  assert.equal(map.frames, 45);
  assert.equal(map.duration, 45 / 16);
  assert.equal(map.timelineFrameOf(0), 0);
  assert.equal(map.timelineFrameOf(1), 16); // 16 fps
  assert.equal(map.timelineFrameOf(99), 44); // clamped to the last frame
  assert.equal(map.timelineFrameOf(-1), 0);
  for (let f = 0; f < map.frames; f++) assert.equal(map.timelineFrameOf(map.videoTimeOf(f)), f);
  // Block boundaries: block 1 (latents 3..5) starts at video frame 4*3 - 3 = 9.
  assert.equal(tl.blockOfVideoFrame(map.timelineFrameOf(map.videoTimeOf(8))), 0);
  assert.equal(tl.blockOfVideoFrame(map.timelineFrameOf(map.videoTimeOf(9))), 1);
});

test("a video that starts at a later latent is offset onto the session timeline", () => {
  const map = new SessionVideoMap({ latentFrames: 3, firstImage: 6 });
  const tl = new Timeline();
  assert.equal(map.frames, 9);
  assert.equal(map.start, 24); // the last frame of latent 6
  assert.equal(map.end, 33);
  assert.equal(tl.imageOfVideoFrame(map.timelineFrameOf(0)), 6);
  assert.equal(tl.imageOfVideoFrame(map.timelineFrameOf(8 / 16)), 8); // the video's last frame is latent 8's last
  assert.equal(map.timelineFrameOf(8 / 16), tl.videoFramesOf(9) - 1);
  assert.equal(map.videoTimeOf(0), 0.5 / 16); // before the video: its first frame
  assert.equal(map.videoTimeOf(1000), 8.5 / 16);
});

test("an hour-long session maps without drift", () => {
  const latents = (3600 * 16 + 3) / 4; // 4T - 3 = 57,600 frames
  const map = new SessionVideoMap({ latentFrames: latents });
  assert.equal(map.duration, 3600);
  assert.equal(map.timelineFrameOf(map.videoTimeOf(57_599)), 57_599);
  assert.equal(map.timelineFrameOf(1800), 28_800);
});

test("the route path escapes the session name and carries the run", () => {
  assert.equal(sessionVideoPath("my cam/../x", "ab12"), "/echo_stream/sessions/my%20cam%2F..%2Fx/video?run=ab12");
});

test("run events carry the video field, validated", () => {
  assert.equal(parseRunEvent(runEvent({})).value.video, null);
  const ev = parseRunEvent(runEvent({ video: { latent_frames: 6, first_image: 0 } }));
  assert.deepEqual(ev.value.video, { latent_frames: 6, first_image: 0 });
  for (const bad of [{ latent_frames: 0, first_image: 0 }, { latent_frames: 2 }, [1, 2], "x", { latent_frames: 1.5, first_image: 0 }]) {
    const r = parseRunEvent(runEvent({ video: bad }));
    assert.equal(r.ok, false);
    assert.match(r.error, /video/);
  }
  assert.throws(() => parseVideoField({ latent_frames: -1, first_image: 0 }), /video/);
});
