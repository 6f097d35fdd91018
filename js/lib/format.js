// Text shown by the player: clock times, rates, the block counter and the run state.

const DASH = "\u2013";

// Seconds as m:ss, or h:mm:ss from an hour on (an hour-long session is the design target).
export function formatClock(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return `${DASH}:${DASH}${DASH}`;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function formatRate(blocksPerSecond) {
  if (typeof blocksPerSecond !== "number" || !Number.isFinite(blocksPerSecond)) return `${DASH} blocks/s`;
  const digits = blocksPerSecond >= 10 ? 0 : blocksPerSecond >= 1 ? 1 : 2;
  return `${blocksPerSecond.toFixed(digits)} blocks/s`;
}

export function formatEta(seconds) {
  return `ETA ${typeof seconds === "number" && Number.isFinite(seconds) ? formatClock(Math.ceil(seconds)) : DASH}`;
}

// "block done / total": blocks generated so far in the session and the session-wide plan.
export function formatBlockCounter(generatedBlocks, totalBlocks) {
  return `block ${generatedBlocks} / ${Math.max(totalBlocks, generatedBlocks)}`;
}

const PHASE_TEXT = Object.freeze({
  idle: "waiting for a run",
  running: "generating",
  end: "done",
  interrupted: "interrupted",
  error: "error",
});

export function formatPhase(phase, message) {
  const base = PHASE_TEXT[phase] ?? phase;
  return phase === "error" && message ? `${base}: ${message}` : base;
}

// The status line's pieces for a timeline (lib/timeline.js); the rate and ETA only while running.
export function statusParts(timeline) {
  const running = timeline.phase === "running";
  const timing = running ? timeline.timing : null;
  return {
    counter: formatBlockCounter(timeline.generatedBlocks, timeline.totalBlocks),
    rate: formatRate(timing ? timing.blocks_per_second : null),
    eta: running ? formatEta(timing ? timing.eta : null) : "",
    phase: formatPhase(timeline.phase, timeline.message),
    runs: timeline.runs.length,
  };
}
