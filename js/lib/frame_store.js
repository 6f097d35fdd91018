// A bounded store of preview images keyed by session-wide latent-frame index.
//
// An hour of 16 fps video is 14,400 preview images; keeping them all would grow the page by
// hundreds of MB. When the store is over capacity it thins its oldest half (drops every other
// frame there), so the newest frames stay dense for live viewing and recent scrubbing, while older
// footage keeps an ever sparser but complete-in-span sample (the first frame is never dropped).
// Lookups of a dropped frame answer with the nearest kept one.

export const DEFAULT_CAPACITY = 600;

export class FrameStore {
  constructor(capacity = DEFAULT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 4) throw new RangeError("capacity must be an integer >= 4");
    this.capacity = capacity;
    this.clear();
  }

  clear() {
    // Parallel arrays sorted by frame index: binary search without per-entry objects.
    this.frames = [];
    this.srcs = [];
    this.thinnings = 0;
  }

  get size() {
    return this.frames.length;
  }

  // Index of the first entry with frame >= f.
  lowerBound(f) {
    let lo = 0;
    let hi = this.frames.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.frames[mid] < f) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Stores the image of latent frame `frame`; a frame already present is replaced (a block that was
  // generated again after an interruption).
  put(frame, src) {
    const n = this.frames.length;
    if (n === 0 || frame > this.frames[n - 1]) {
      this.frames.push(frame);
      this.srcs.push(src);
    } else {
      const i = this.lowerBound(frame);
      if (this.frames[i] === frame) {
        this.srcs[i] = src;
        return;
      }
      this.frames.splice(i, 0, frame);
      this.srcs.splice(i, 0, src);
    }
    if (this.frames.length > this.capacity) this.thin();
  }

  // Drops every other entry of the oldest half, keeping the oldest entry itself.
  thin() {
    const half = this.frames.length >> 1;
    const frames = [];
    const srcs = [];
    for (let i = 0; i < this.frames.length; i++) {
      if (i < half && i % 2 === 1) continue;
      frames.push(this.frames[i]);
      srcs.push(this.srcs[i]);
    }
    this.frames = frames;
    this.srcs = srcs;
    this.thinnings++;
  }

  // Forgets every frame >= `frame` (they are about to be generated again).
  truncateFrom(frame) {
    const i = this.lowerBound(frame);
    this.frames.length = i;
    this.srcs.length = i;
  }

  has(frame) {
    const i = this.lowerBound(frame);
    return this.frames[i] === frame;
  }

  // The kept entry closest to `frame` ({frame, src}), the earlier one on a tie; null when empty.
  nearest(frame) {
    const n = this.frames.length;
    if (n === 0) return null;
    const i = this.lowerBound(frame);
    let best;
    if (i === 0) best = 0;
    else if (i === n) best = n - 1;
    else best = frame - this.frames[i - 1] <= this.frames[i] - frame ? i - 1 : i;
    return { frame: this.frames[best], src: this.srcs[best] };
  }

  newest() {
    const n = this.frames.length;
    return n === 0 ? null : { frame: this.frames[n - 1], src: this.srcs[n - 1] };
  }

  oldest() {
    return this.frames.length === 0 ? null : { frame: this.frames[0], src: this.srcs[0] };
  }
}
