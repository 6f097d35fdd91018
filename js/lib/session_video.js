// The Final view's session video: the whole MP4 the sampler writes for a session
// (GET /echo_stream/sessions/<name>/video, nodes/routes.py), played in a <video> element and mapped
// onto the scene timeline.
//
// Units: the timeline counts session-wide video frames. The video holds `latent_frames` latents from
// session latent frame `first_image` on, decoded as one stream: 4T - 3 frames at 16 fps. When the video
// started at latent f0 > 0 (a session decoded only from a later run on), its frame 0 is the last frame
// of latent f0, so video frame v is timeline frame 4 f0 + v; from latent 0 on, v is timeline frame v.

export class SessionVideoMap {
  constructor({ latentFrames, firstImage = 0, framesPerImage = 4, fps = 16 }) {
    this.latentFrames = latentFrames;
    this.firstImage = firstImage;
    this.fps = fps;
    this.frames = latentFrames > 0 ? 1 + framesPerImage * (latentFrames - 1) : 0; // 4T - 3
    this.offset = firstImage > 0 ? framesPerImage * firstImage : 0;
  }

  get duration() {
    return this.frames / this.fps;
  }

  // Timeline frames [start, end) the video covers.
  get start() {
    return this.offset;
  }

  get end() {
    return this.offset + this.frames;
  }

  // The timeline frame shown at `seconds` into the video (clamped to the video).
  timelineFrameOf(seconds) {
    const v = Math.floor(Math.max(0, seconds) * this.fps + 1e-6);
    return this.offset + Math.max(0, Math.min(this.frames - 1, v));
  }

  // The video time that shows timeline frame `frame`: the middle of its video frame, so a player
  // that rounds either way lands on it. Frames outside the video clamp to its first or last frame.
  videoTimeOf(frame) {
    const v = Math.max(0, Math.min(this.frames - 1, Math.floor(frame) - this.offset));
    return (v + 0.5) / this.fps;
  }
}

// The route's URL for `session`; `run` busts the browser's cache, since the file grows with every run.
export function sessionVideoPath(session, run) {
  return `/echo_stream/sessions/${encodeURIComponent(session)}/video?run=${encodeURIComponent(run)}`;
}

// A run event's `video` (docs/preview_events.md): null, or {latent_frames, first_image} integers.
export function parseVideoField(video) {
  if (video === undefined || video === null) return null;
  const ok = (x, min) => Number.isInteger(x) && x >= min;
  if (typeof video !== "object" || Array.isArray(video) || !ok(video.latent_frames, 1) || !ok(video.first_image, 0)) {
    throw new Error("video: expected null or {latent_frames >= 1, first_image >= 0}");
  }
  return { latent_frames: video.latent_frames, first_image: video.first_image };
}
