// The session timeline: which scenes exist, where they start, how far generation has got, and the
// conversions between blocks, latent frames (one preview image each) and video frames.
//
// It is fed the parsed events (lib/payload.js) and holds no DOM. Block indices are session-wide,
// so the runs of one continued session grow one timeline; a new session clears it.

// Geometry until the first run event says otherwise: Wan2.1 causal models emit 3 latent frames
// per block, played at 16 fps. The Wan VAE decodes T latent frames to 4T - 3 video frames: latent
// frame 0 to one frame, every later one to 4 (frames_per_image).
export const DEFAULT_GEOMETRY = Object.freeze({ framesPerBlock: 3, fps: 16, framesPerImage: 4 });

function copyScene(s) {
  const copy = { index: s.index, label: s.label, transition: s.transition, start_block: s.start_block, blocks: s.blocks };
  if (s.recalls) copy.recalls = { ...s.recalls };
  return copy;
}

function sameTarget(a, b) {
  return (a?.index ?? null) === (b?.index ?? null) && (a?.label ?? null) === (b?.label ?? null);
}

function endOf(s) {
  return s.start_block + s.blocks;
}

// Sorted, non-overlapping, non-empty scenes; a scene overlapping its successor ends where the
// successor starts (the later scene is the newer plan).
export function normaliseScenes(scenes) {
  const out = scenes.filter((s) => s.blocks > 0).map(copyScene);
  out.sort((a, b) => a.start_block - b.start_block || a.index - b.index);
  for (let i = 0; i + 1 < out.length; i++) {
    const next = out[i + 1];
    if (endOf(out[i]) > next.start_block) out[i].blocks = next.start_block - out[i].start_block;
  }
  return out.filter((s) => s.blocks > 0);
}

// Scenes cut at `extent` blocks: what a stopped run did not reach is dropped.
export function clipScenes(scenes, extent) {
  return scenes
    .filter((s) => s.start_block < extent)
    .map((s) => ({ ...copyScene(s), blocks: Math.min(s.blocks, extent - s.start_block) }));
}

export function scenesEnd(scenes) {
  return scenes.reduce((end, s) => Math.max(end, endOf(s)), 0);
}

export class Timeline {
  constructor() {
    this.clear();
  }

  clear() {
    this.session = null;
    this.runs = []; // run ids of this session in arrival order
    this.run = null;
    this.phase = "idle"; // idle | running | end | interrupted | error
    this.message = null;
    this.scenes = [];
    this.totalBlocks = 0; // session-wide planned extent
    this.generatedBlocks = 0; // blocks [0, generatedBlocks) exist
    this.lastBlock = null;
    this.runFirstBlock = 0;
    this.runBlocks = 0;
    this.runBlock = null;
    this.timing = null;
    this.framesPerBlock = DEFAULT_GEOMETRY.framesPerBlock;
    this.fps = DEFAULT_GEOMETRY.fps;
    this.framesPerImage = DEFAULT_GEOMETRY.framesPerImage;
    this.version = 0; // bumped when the scene list changes, so a view rebuilds segments only then
  }

  // Applies a parsed `echo_stream.run`. Returns {reset, truncateFromBlock}: reset when it began a
  // new session (the caller drops its frames), truncateFromBlock when a continued run regenerates
  // blocks the caller already holds frames for.
  applyRun(ev) {
    const known = this.session === ev.session && this.runs.includes(ev.run);
    const reset = this.session !== ev.session || (!known && !ev.continued);
    if (reset) {
      this.clear();
      this.session = ev.session;
    }
    let truncateFromBlock = null;
    if (!this.runs.includes(ev.run)) {
      this.runs.push(ev.run);
      if (!reset && ev.first_block < this.generatedBlocks) {
        this.generatedBlocks = ev.first_block;
        truncateFromBlock = ev.first_block;
      }
    }
    this.run = ev.run;
    this.framesPerBlock = ev.frames_per_block;
    this.fps = ev.fps;
    this.framesPerImage = ev.frames_per_image;
    this.runFirstBlock = ev.first_block;
    this.runBlocks = ev.run_blocks;
    // Blocks before this run exist even when this page did not see them (joined mid-session).
    this.generatedBlocks = Math.max(this.generatedBlocks, ev.first_block);

    if (ev.phase === "start") {
      this.phase = "running";
      this.message = null;
      this.timing = null;
      this.runBlock = null;
      this.scenes = normaliseScenes(ev.scenes);
      this.totalBlocks = Math.max(ev.total_blocks, this.generatedBlocks);
    } else {
      // A stopped run: the timeline ends where generation ended, not where it was planned to.
      let extent;
      if (ev.phase === "end") extent = ev.total_blocks;
      else if (ev.phase === "interrupted") extent = Math.max(this.generatedBlocks, scenesEnd(ev.scenes));
      else extent = this.generatedBlocks;
      this.phase = ev.phase;
      this.message = ev.message;
      this.generatedBlocks = extent;
      this.totalBlocks = extent;
      this.scenes = clipScenes(normaliseScenes(ev.scenes), extent);
    }
    this.version++;
    return { reset, truncateFromBlock };
  }

  // Applies a parsed `echo_stream.block`. Returns {reset} (true when it came from a session this
  // timeline had not seen, e.g. the page was opened mid-run).
  applyBlock(ev) {
    const reset = this.session !== ev.session;
    if (reset) {
      this.clear();
      this.session = ev.session;
    }
    if (!this.runs.includes(ev.run)) this.runs.push(ev.run);
    this.run = ev.run;
    this.phase = "running";
    this.lastBlock = ev.block;
    this.runBlock = ev.run_block;
    this.runBlocks = ev.run_blocks;
    this.timing = ev.timing;
    this.generatedBlocks = Math.max(this.generatedBlocks, ev.block + 1);
    this.totalBlocks = Math.max(ev.total_blocks, this.generatedBlocks);
    if (this.patchScene(ev.scene, ev.block) || reset) this.version++;
    return { reset };
  }

  // Makes `block` belong to `scene` (a block event is the truth about what was generated). Returns
  // whether the scene list changed.
  patchScene(scene, block) {
    let own = this.scenes.find((s) => s.index === scene.index);
    let changed = false;
    if (!own) {
      own = copyScene({ ...scene, start_block: block, blocks: 1 });
      this.scenes.push(own);
      changed = true;
    } else {
      if (own.label !== scene.label || own.transition !== scene.transition || !sameTarget(own.recalls, scene.recalls)) {
        own.label = scene.label;
        own.transition = scene.transition;
        if (scene.recalls) own.recalls = { ...scene.recalls };
        else delete own.recalls;
        changed = true;
      }
      if (block < own.start_block) {
        own.blocks += own.start_block - block;
        own.start_block = block;
        changed = true;
      } else if (block >= endOf(own)) {
        own.blocks = block - own.start_block + 1;
        changed = true;
      }
    }
    if (!changed) return false;
    // Other scenes give up the range `own` now covers.
    for (const s of this.scenes) {
      if (s === own) continue;
      if (s.start_block < own.start_block) {
        s.blocks = Math.min(endOf(s), own.start_block) - s.start_block;
      } else if (s.start_block < endOf(own)) {
        const end = endOf(s);
        s.start_block = endOf(own);
        s.blocks = end - s.start_block;
      }
    }
    this.scenes = normaliseScenes(this.scenes);
    return true;
  }

  // The drawn scale: planned blocks, or generated ones if generation outran the plan.
  get extentBlocks() {
    return Math.max(this.totalBlocks, this.generatedBlocks);
  }

  get videoFramesPerBlock() {
    return this.framesPerBlock * this.framesPerImage;
  }

  // Video frames of `latentFrames` latent frames: 4T - 3 (1 + 4 (T - 1)), none for none.
  videoFramesOf(latentFrames) {
    return latentFrames > 0 ? 1 + this.framesPerImage * (latentFrames - 1) : 0;
  }

  get generatedVideoFrames() {
    return this.videoFramesOf(this.generatedBlocks * this.framesPerBlock);
  }

  get extentVideoFrames() {
    return this.videoFramesOf(this.extentBlocks * this.framesPerBlock);
  }

  sceneAt(block) {
    // Few scenes (tens): a linear scan is simpler than a search and as fast.
    for (const s of this.scenes) if (block >= s.start_block && block < endOf(s)) return s;
    return null;
  }

  // Latent frame 0 (one preview image) is video frame 0; latent frame f > 0 covers video frames
  // [4f - 3, 4f] (with 4 = framesPerImage).
  imageOfVideoFrame(v) {
    return v > 0 ? Math.floor((v + this.framesPerImage - 1) / this.framesPerImage) : 0;
  }

  // The first video frame of latent frame f.
  videoFrameOfImage(f) {
    return f > 0 ? this.framesPerImage * f - (this.framesPerImage - 1) : 0;
  }

  blockOfImage(f) {
    return Math.floor(f / this.framesPerBlock);
  }

  firstImageOfBlock(block) {
    return block * this.framesPerBlock;
  }

  blockOfVideoFrame(v) {
    return this.blockOfImage(this.imageOfVideoFrame(v));
  }

  secondsOfVideoFrame(v) {
    return v / this.fps;
  }
}
