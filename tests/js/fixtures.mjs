// Event builders shared by the unit tests: valid payloads with overridable fields.

export const PNG_1PX =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

export function runEvent(over = {}) {
  return {
    version: 1,
    node: "12",
    session: "default",
    run: "r1",
    phase: "start",
    continued: false,
    first_block: 0,
    run_blocks: 24,
    total_blocks: 24,
    frames_per_block: 3,
    fps: 16,
    frames_per_image: 4,
    scenes: [
      { index: 0, label: "beach", transition: "start", start_block: 0, blocks: 12 },
      { index: 1, label: null, transition: "smooth", start_block: 12, blocks: 12 },
    ],
    ...over,
  };
}

export function blockEvent(over = {}) {
  return {
    version: 1,
    node: "12",
    session: "default",
    run: "r1",
    block: 0,
    run_block: 0,
    run_blocks: 24,
    total_blocks: 24,
    scene: { index: 0, label: "beach", transition: "start" },
    images: [PNG_1PX, PNG_1PX, PNG_1PX],
    image_frame: 0,
    timing: { elapsed: 0.6, blocks_per_second: 1.6, eta: 14.4 },
    ...over,
  };
}
