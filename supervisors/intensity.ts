// Restart intensity, OTP's add_restart/3 as a pure function: more than `maxRestarts`
// restarts within `withinMs` and the supervisor gives up (stops its children and fails to
// its parent). Times come from the caller's clock, so tests run on a simulated one.

export interface Intensity {
  maxRestarts: number;
  withinMs: number;
}

/** OTP's defaults: intensity 1, period 5 s. */
export const DEFAULT_INTENSITY: Intensity = { maxRestarts: 1, withinMs: 5_000 };

export interface RestartWindow {
  /** Times of the restarts still inside the window, oldest first. */
  readonly restarts: readonly number[];
}

export const EMPTY_WINDOW: RestartWindow = { restarts: [] };

/** Records one more restart at `now`; `exceeded` when the window now holds more than maxRestarts. */
export function addRestart(window: RestartWindow, now: number, intensity: Intensity): { window: RestartWindow; exceeded: boolean } {
  const kept = window.restarts.filter((t) => now - t < intensity.withinMs);
  kept.push(now);
  return { window: { restarts: kept }, exceeded: kept.length > intensity.maxRestarts };
}
