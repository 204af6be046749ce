/**
 * Timers that never keep the process alive. Deno unrefs a timer through its
 * own namespace, Node and Bun through the handle; this is the one place that
 * knows which.
 *
 * @module
 */

/** `setInterval` whose timer does not keep the event loop running. */
export function unrefInterval(callback: () => void, milliseconds: number): ReturnType<typeof setInterval> {
  const handle = setInterval(callback, milliseconds);
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof handle === "number") deno?.unrefTimer?.(handle);
  else (handle as { unref?(): void }).unref?.();
  return handle;
}
