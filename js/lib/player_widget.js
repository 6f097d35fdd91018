// The player shown inside an EchoStreamingSampler node: the newest (or scrubbed-to) preview frame,
// play/pause/live controls, the scene timeline and the run status.
//
// It takes the `document` to build in and injectable clock/scheduler, so the browser test can run
// it outside ComfyUI. All DOM writes happen in draw(), which a throttle runs at most once per
// animation frame; the event handlers only update the models.

import { FrameStore, DEFAULT_CAPACITY } from "./frame_store.js";
import { Timeline } from "./timeline.js";
import { Playhead } from "./playhead.js";
import { createThrottle } from "./throttle.js";
import { LEGEND, transitionColor, sceneTitle } from "./palette.js";
import { formatClock, statusParts } from "./format.js";
import { viewPath } from "./payload.js";
import { MIN_HEIGHT, ensureStyle } from "./player_style.js";
import { SessionVideoMap, sessionVideoPath } from "./session_video.js";

export { MIN_HEIGHT };

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  play: "M5 3.5v9l8-4.5z",
  pause: "M4 3h3v10H4zM9 3h3v10H9z",
};

function el(doc, tag, className, text) {
  const e = doc.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function icon(doc, name) {
  const svg = doc.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  const path = doc.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function percent(x) {
  return `${(Math.max(0, Math.min(1, x)) * 100).toFixed(3)}%`;
}

export class PlayerWidget {
  constructor({
    document,
    now = () => (globalThis.performance ? globalThis.performance.now() : Date.now()),
    schedule,
    cancel,
    apiURL = (path) => `/api${path}`,
    capacity = DEFAULT_CAPACITY,
    minInterval = 30,
  }) {
    this.doc = document;
    this.now = now;
    this.apiURL = apiURL;
    this.timeline = new Timeline();
    this.store = new FrameStore(capacity);
    this.playhead = new Playhead();
    this.view = "frames"; // frames | final
    this.final = null; // {filename, subfolder, type, url}
    this.sessionVideo = null; // {url, map}: the session's whole video, preferred by the Final view
    this.shownSrc = null;
    this.drawnVersion = -1;
    this.drawnExtent = -1;
    this.events = 0;
    this.draws = 0;
    this.throttle = createThrottle(() => this.draw(), { minInterval, now, schedule, cancel });
    this.build();
    this.throttle.request();
  }

  build() {
    const doc = this.doc;
    ensureStyle(doc);
    const root = el(doc, "div", "echo-pv");
    root.dataset.echoPreview = "";

    const screen = el(doc, "div", "echo-pv-screen");
    this.frameImg = el(doc, "img", "echo-pv-frame");
    this.frameImg.alt = "live preview frame";
    this.frameImg.decoding = "sync"; // swap frames without a blank in between
    this.finalImg = el(doc, "img", "echo-pv-final");
    this.finalImg.alt = "final video";
    this.finalImg.hidden = true;
    this.finalVideo = el(doc, "video", "echo-pv-final-video");
    Object.assign(this.finalVideo, { hidden: true, muted: true, playsInline: true, preload: "metadata" });
    for (const e of ["timeupdate", "seeked", "play", "pause", "loadedmetadata"]) {
      this.finalVideo.addEventListener(e, () => this.throttle.request());
    }
    this.empty = el(doc, "div", "echo-pv-empty", "Waiting for the sampler's first block\u2026");
    this.badge = el(doc, "div", "echo-pv-badge");
    this.chip = el(doc, "div", "echo-pv-chip");
    this.chipDot = el(doc, "i", "echo-pv-dot");
    this.chipText = el(doc, "span");
    this.chip.append(this.chipDot, this.chipText);
    this.clock = el(doc, "div", "echo-pv-clock");
    screen.append(this.frameImg, this.finalImg, this.finalVideo, this.empty, this.badge, this.chip, this.clock);

    const controls = el(doc, "div", "echo-pv-row");
    this.playBtn = el(doc, "button", "echo-pv-btn echo-pv-play");
    this.playBtn.type = "button";
    this.playIcon = icon(doc, "play");
    this.pauseIcon = icon(doc, "pause");
    this.playBtn.append(this.playIcon, this.pauseIcon);
    this.liveBtn = el(doc, "button", "echo-pv-btn echo-pv-live", "LIVE");
    this.liveBtn.type = "button";
    this.liveBtn.title = "Follow the newest frame";
    this.time = el(doc, "span", "echo-pv-time");
    const views = el(doc, "div", "echo-pv-seg-group");
    this.framesBtn = el(doc, "button", "echo-pv-btn echo-pv-view-frames", "Frames");
    this.framesBtn.type = "button";
    this.framesBtn.title = "Preview frames received while generating";
    this.finalBtn = el(doc, "button", "echo-pv-btn echo-pv-view-final", "Final");
    this.finalBtn.type = "button";
    views.append(this.framesBtn, this.finalBtn);
    controls.append(this.playBtn, this.liveBtn, this.time, views);

    this.track = el(doc, "div", "echo-pv-track");
    this.track.title = "Click or drag to scrub";
    this.segments = el(doc, "div", "echo-pv-segments");
    this.pending = el(doc, "div", "echo-pv-pending");
    this.head = el(doc, "div", "echo-pv-head");
    this.track.append(this.segments, this.pending, this.head);

    const legend = el(doc, "div", "echo-pv-legend");
    for (const t of LEGEND) {
      const item = el(doc, "span");
      const sw = el(doc, "i");
      sw.style.background = transitionColor(t);
      item.append(sw, doc.createTextNode(t));
      legend.append(item);
    }

    const status = el(doc, "div", "echo-pv-status");
    this.counter = el(doc, "b", "echo-pv-counter");
    this.rate = el(doc, "span", "echo-pv-rate");
    this.eta = el(doc, "span", "echo-pv-eta");
    this.phase = el(doc, "span", "echo-pv-phase");
    status.append(this.counter, this.rate, this.eta, this.phase);

    root.append(screen, controls, this.track, legend, status);
    this.element = root;
    root.echoPlayer = this; // reachable from the DOM: the browser test and console debugging
    this.bindInput();
  }

  bindInput() {
    // Stop pointer events here: otherwise the graph canvas (or a Vue node) starts dragging the node.
    const swallow = (e) => e.stopPropagation();
    for (const b of [this.playBtn, this.liveBtn, this.framesBtn, this.finalBtn]) b.addEventListener("pointerdown", swallow);
    this.playBtn.addEventListener("click", () => this.togglePlay());
    this.liveBtn.addEventListener("click", () => this.goLive());
    this.framesBtn.addEventListener("click", () => this.setView("frames"));
    this.finalBtn.addEventListener("click", () => this.setView("final"));

    let dragging = null;
    const seekAt = (e) => {
      const r = this.track.getBoundingClientRect();
      if (r.width > 0) this.seekFraction((e.clientX - r.left) / r.width);
    };
    this.track.addEventListener("pointerdown", (e) => {
      e.stopPropagation();
      e.preventDefault();
      dragging = e.pointerId;
      try {
        this.track.setPointerCapture(e.pointerId); // keep scrubbing when the pointer leaves the bar
      } catch {
        // Synthetic or already-released pointers cannot be captured; a click still seeks.
      }
      seekAt(e);
    });
    this.track.addEventListener("pointermove", (e) => {
      if (dragging === e.pointerId) seekAt(e);
    });
    const stop = (e) => {
      if (dragging === e.pointerId) dragging = null;
    };
    this.track.addEventListener("pointerup", stop);
    this.track.addEventListener("pointercancel", stop);
  }

  get finished() {
    return this.timeline.phase !== "running";
  }

  // --- event handlers (already parsed by lib/payload.js) --------------------------------------

  handleRun(ev) {
    const { reset, truncateFromBlock } = this.timeline.applyRun(ev);
    if (reset) this.resetMedia();
    if (truncateFromBlock !== null) this.store.truncateFrom(this.timeline.firstImageOfBlock(truncateFromBlock));
    if (ev.video) {
      const tl = this.timeline;
      this.sessionVideo = {
        url: this.apiURL(sessionVideoPath(ev.session, `${ev.run}-${ev.video.latent_frames}`)), // busts the cache as it grows
        map: new SessionVideoMap({ latentFrames: ev.video.latent_frames, firstImage: ev.video.first_image,
                                   framesPerImage: tl.framesPerImage, fps: tl.fps }),
      };
    }
    if (ev.phase === "start") this.view = "frames";
    this.changed();
  }

  handleBlock(ev) {
    const { reset } = this.timeline.applyBlock(ev);
    if (reset) this.resetMedia();
    // images[i] is latent frame image_frame + i (docs/preview_events.md).
    ev.images.forEach((src, i) => this.store.put(ev.image_frame + i, src));
    this.changed();
  }

  handleExecuted(file) {
    this.final = { ...file, url: this.apiURL(viewPath(file)) };
    this.changed();
  }

  resetMedia() {
    this.store.clear();
    this.playhead = new Playhead({ fps: this.timeline.fps });
    this.final = null;
    this.sessionVideo = null;
    this.finalVideo.pause?.();
    this.finalVideo.removeAttribute("src");
    this.view = "frames";
  }

  get finalAvailable() {
    return !!(this.sessionVideo || this.final);
  }

  get showingVideo() {
    return this.view === "final" && !!this.sessionVideo;
  }

  changed() {
    this.events++;
    this.throttle.request();
  }

  // --- user actions ---------------------------------------------------------------------------

  togglePlay() {
    if (this.showingVideo) {
      if (this.finalVideo.paused) this.finalVideo.play?.()?.catch?.(() => {});
      else this.finalVideo.pause();
      this.throttle.flush();
      return;
    }
    const tl = this.timeline;
    this.playhead.toggle(this.now(), tl.generatedVideoFrames, this.finished);
    if (this.view === "final") this.view = "frames";
    this.throttle.flush();
  }

  goLive() {
    this.playhead.goLive();
    this.view = "frames";
    this.throttle.flush();
  }

  setView(view) {
    if (view === "final" && !this.finalAvailable) return;
    this.view = view;
    this.throttle.flush();
  }

  // Seeks to a fraction of the drawn timeline, clamped to what has been generated.
  seekFraction(x) {
    const tl = this.timeline;
    const v = Math.floor(Math.max(0, Math.min(1, x)) * tl.extentVideoFrames);
    this.playhead.seek(v, this.now(), tl.generatedVideoFrames);
    if (this.showingVideo) {
      this.finalVideo.currentTime = this.sessionVideo.map.videoTimeOf(v); // the bar scrubs the whole file
      this.throttle.flush();
      return;
    }
    if (this.view === "final") this.view = "frames";
    this.throttle.flush();
  }

  destroy() {
    this.throttle.cancel();
    this.destroyed = true;
  }

  // --- drawing --------------------------------------------------------------------------------

  draw() {
    if (this.destroyed) return;
    this.draws++;
    const tl = this.timeline;
    const now = this.now();
    this.playhead.setFps(tl.fps, now);
    if (this.showingVideo) {
      // The video is the clock: the playhead follows its time, mapped onto the scene timeline.
      this.playhead.mode = "pause";
      this.playhead.position = this.sessionVideo.map.timelineFrameOf(this.finalVideo.currentTime || 0);
    }
    this.playhead.update(now, tl.generatedVideoFrames, this.finished);
    const v = this.playhead.frame;

    this.drawScreen(v);
    this.drawControls(v);
    this.drawTrack();
    const parts = statusParts(tl);
    setText(this.counter, parts.counter);
    setText(this.rate, tl.phase === "running" ? parts.rate : "");
    setText(this.eta, parts.eta);
    setText(this.phase, parts.runs > 1 ? `${parts.phase} \u00b7 ${parts.runs} runs` : parts.phase);
    this.phase.dataset.phase = tl.phase;

    // Playing needs a redraw every frame until it pauses itself.
    if (this.playhead.mode === "play" || (this.showingVideo && !this.finalVideo.paused)) this.throttle.request();
  }

  drawScreen(v) {
    const tl = this.timeline;
    const showFinal = this.view === "final" && this.finalAvailable;
    const showVideo = this.showingVideo;
    const hit = this.store.nearest(tl.imageOfVideoFrame(v));
    if (showVideo) {
      if (this.finalVideo.getAttribute("src") !== this.sessionVideo.url) this.finalVideo.src = this.sessionVideo.url;
    } else if (showFinal) {
      if (this.finalImg.getAttribute("src") !== this.final.url) this.finalImg.src = this.final.url;
    } else if (hit && hit.src !== this.shownSrc) {
      this.frameImg.src = hit.src;
      this.shownSrc = hit.src;
    }
    this.shownFrame = hit ? hit.frame : null;
    this.finalImg.hidden = !showFinal || showVideo;
    this.finalVideo.hidden = !showVideo;
    if (!showVideo && !this.finalVideo.paused) this.finalVideo.pause();
    this.frameImg.hidden = showFinal || !hit;
    this.empty.hidden = showFinal || !!hit;
    if (!hit && tl.phase !== "idle") setText(this.empty, "No preview frames received yet");

    const mode = showFinal ? "final" : this.playhead.mode;
    this.badge.dataset.mode = mode;
    setText(this.badge, mode === "live" ? "\u25cf LIVE" : mode === "final" ? "FINAL" : mode === "play" ? "PLAYING" : "PAUSED");

    const scene = tl.sceneAt(tl.blockOfVideoFrame(v));
    this.chip.hidden = !scene || showFinal;
    if (scene) {
      this.chipDot.style.background = transitionColor(scene.transition);
      setText(this.chipText, `${sceneTitle(scene)} \u00b7 ${scene.transition}`);
    }
    setText(this.clock, `${formatClock(tl.secondsOfVideoFrame(v))} \u00b7 block ${tl.blockOfVideoFrame(v)}`);
    this.clock.hidden = (showFinal && !showVideo) || (!hit && !showVideo);
  }

  drawControls(v) {
    const tl = this.timeline;
    const playing = this.playhead.mode === "play";
    this.playIcon.style.display = playing ? "none" : "";
    this.pauseIcon.style.display = playing ? "" : "none";
    this.playBtn.title = playing ? "Pause" : "Play the received frames at 16 fps";
    this.playBtn.setAttribute("aria-label", playing ? "pause" : "play");
    this.liveBtn.setAttribute("aria-pressed", String(this.playhead.mode === "live" && this.view === "frames"));
    this.framesBtn.setAttribute("aria-pressed", String(this.view === "frames"));
    this.finalBtn.setAttribute("aria-pressed", String(this.view === "final"));
    this.finalBtn.disabled = !this.finalAvailable;
    this.finalBtn.title = this.sessionVideo ? "The session's whole video (from the server)"
      : this.final ? `Saved video: ${this.final.filename}` : "Available when the run has finished";
    setText(this.time, `${formatClock(tl.secondsOfVideoFrame(v))} / ${formatClock(tl.secondsOfVideoFrame(tl.generatedVideoFrames))}`);
  }

  drawTrack() {
    const tl = this.timeline;
    const extent = tl.extentBlocks;
    if (tl.version !== this.drawnVersion || extent !== this.drawnExtent) {
      this.rebuildSegments(extent);
      this.drawnVersion = tl.version;
      this.drawnExtent = extent;
    }
    const generated = extent > 0 ? tl.generatedBlocks / extent : 0;
    this.pending.style.left = percent(generated);
    this.pending.hidden = generated >= 1 || extent === 0;
    const frames = tl.extentVideoFrames;
    this.head.style.left = percent(frames > 0 ? this.playhead.position / frames : 0);
    this.head.hidden = frames === 0;
  }

  rebuildSegments(extent) {
    const doc = this.doc;
    const parts = [];
    const scenes = extent > 0 ? this.timeline.scenes : [];
    for (const s of scenes) {
      const seg = el(doc, "div", "echo-pv-seg");
      seg.dataset.transition = s.transition;
      seg.dataset.index = String(s.index);
      seg.style.left = percent(s.start_block / extent);
      seg.style.width = percent(s.blocks / extent);
      seg.style.background = transitionColor(s.transition);
      seg.title = `${sceneTitle(s)} \u00b7 ${s.transition} \u00b7 blocks ${s.start_block}\u2013${s.start_block + s.blocks - 1}`;
      seg.append(el(doc, "span", "", sceneTitle(s)));
      parts.push(seg);
    }
    this.segments.replaceChildren(...parts);
  }

  // What is on screen, read back from the DOM (the browser test and debugging use it).
  describe() {
    const segs = [...this.segments.children].map((s) => ({
      label: s.textContent,
      transition: s.dataset.transition,
      color: s.style.background || s.style.backgroundColor,
      left: s.style.left,
      width: s.style.width,
    }));
    return {
      segments: segs,
      counter: this.counter.textContent,
      rate: this.rate.textContent,
      eta: this.eta.textContent,
      phase: this.phase.textContent,
      time: this.time.textContent,
      badge: this.badge.textContent,
      chip: this.chip.hidden ? null : this.chipText.textContent,
      mode: this.playhead.mode,
      view: this.view,
      frameSrc: this.frameImg.hidden ? null : this.frameImg.getAttribute("src"),
      shownFrame: this.shownFrame,
      finalSrc: this.finalImg.hidden ? null : this.finalImg.getAttribute("src"),
      finalEnabled: !this.finalBtn.disabled,
      finalVideoSrc: this.finalVideo.hidden ? null : this.finalVideo.getAttribute("src"),
      pendingLeft: this.pending.hidden ? null : this.pending.style.left,
      headLeft: this.head.style.left,
      framesStored: this.store.size,
      events: this.events,
      draws: this.draws,
      session: this.timeline.session,
      runs: this.timeline.runs.slice(),
    };
  }
}
