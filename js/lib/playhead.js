// The player's position in video frames and its mode:
//   live  - follows the newest generated frame;
//   play  - advances at `fps` from where it was started; at the generated end it waits for more
//           frames while the run is going, and stops (pause) once nothing more is coming;
//   pause - stays where it was put.
// Time comes in as an argument (milliseconds), so tests need no real clock.

export class Playhead {
  constructor({ fps = 16 } = {}) {
    this.fps = fps;
    this.mode = "live";
    this.position = 0;
    this.anchorPosition = 0;
    this.anchorTime = 0;
  }

  anchor(now) {
    this.anchorPosition = this.position;
    this.anchorTime = now;
  }

  setFps(fps, now) {
    if (fps === this.fps) return;
    if (this.mode === "play") this.position = this.anchorPosition + ((now - this.anchorTime) * this.fps) / 1000;
    this.fps = fps;
    this.anchor(now);
  }

  // Moves the position to `now`. `end` is the number of generated video frames (the last one is
  // end - 1); `finished` says no more frames will come.
  update(now, end, finished) {
    const last = Math.max(0, end - 1);
    if (this.mode === "live") {
      this.position = last;
    } else if (this.mode === "play") {
      const p = this.anchorPosition + ((now - this.anchorTime) * this.fps) / 1000;
      if (p >= last) {
        // Caught up with generation: hold here (re-anchored, so playback resumes smoothly).
        this.position = last;
        this.anchor(now);
        if (finished) this.mode = "pause";
      } else {
        this.position = p;
      }
    } else {
      this.position = Math.min(this.position, last);
    }
    this.position = Math.max(0, this.position);
    return this.position;
  }

  // The video frame to show (the position is fractional while playing).
  get frame() {
    return Math.floor(this.position);
  }

  play(now, end) {
    if (this.mode === "live" || this.position >= end - 1) this.position = 0;
    this.mode = "play";
    this.anchor(now);
  }

  pause(now, end, finished) {
    this.update(now, end, finished);
    this.mode = "pause";
  }

  toggle(now, end, finished) {
    if (this.mode === "play") this.pause(now, end, finished);
    else this.play(now, end);
  }

  // Jumps to video frame `position`; scrubbing leaves live mode and keeps playing if it was.
  seek(position, now, end) {
    this.position = Math.max(0, Math.min(position, Math.max(0, end - 1)));
    if (this.mode === "live") this.mode = "pause";
    this.anchor(now);
  }

  goLive() {
    this.mode = "live";
  }
}
