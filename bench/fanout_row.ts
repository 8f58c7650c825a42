/**
 * The JSON row of the fan-out shape, shared by `topic_load.ts` (cmqd) and `rabbitmq_topic.ts`
 * (RabbitMQ) so the two print the same fields computed the same way.
 *
 * @module
 */

/** The value at `fraction` of ascending `sorted`, or null when empty. */
export function percentile(sorted: number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/** One decimal, null kept. */
export const round1 = (value: number | null) => value === null ? null : Math.round(value * 10) / 10;

/** What one fan-out window measured. */
export interface FanoutWindow {
  system: string;
  options: { size: number; batch: number; publishers: number; inflight: number; seconds: number };
  /** Messages published (confirmed) in the window; each has 3 queue copies. */
  published: number;
  /** Publish latencies in ms, any order (sorted here). */
  latenciesMs: number[];
  /** The broker's CPU seconds over the window, or null when not measured. */
  brokerCpuSeconds: number | null;
}

/** The row: rates, publish p50/p99 and the broker's CPU per published message. */
export function fanoutRow(window: FanoutWindow) {
  const { options, published, brokerCpuSeconds } = window;
  const latenciesMs = [...window.latenciesMs].sort((a, b) => a - b);
  return {
    shape: "fanout",
    system: window.system,
    queues: 3,
    size: options.size,
    batch: options.batch,
    publishers: options.publishers,
    inflight: options.inflight,
    messagesPerSec: Math.round(published / options.seconds),
    copiesPerSec: Math.round((3 * published) / options.seconds),
    publishP50Ms: round1(percentile(latenciesMs, 0.5)),
    publishP99Ms: round1(percentile(latenciesMs, 0.99)),
    brokerCpuUsPerMessage: brokerCpuSeconds === null || published === 0
      ? null
      : Math.round((1e6 * brokerCpuSeconds) / published),
  };
}
