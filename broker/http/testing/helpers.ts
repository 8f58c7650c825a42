/**
 * Helpers shared by the HTTP and metrics tests (not used by production code).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { NodeStatus, QueueService } from "../../service/mod.ts";
import type { ClusterInfo } from "../../../sdk/protocol.ts";

/** Parses exposition text into `name{labels}` → value, checking every line's shape. */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  assert.ok(text.endsWith("\n"), "exposition ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      assert.match(
        line,
        /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE \S+ (counter|gauge|histogram))$/,
      );
      continue;
    }
    const match = line.match(
      /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (\S+)$/,
    );
    assert.ok(match, `sample line: ${line}`);
    const value = Number(match[2].replace("+Inf", "Infinity"));
    assert.ok(!Number.isNaN(value) || match[2] === "NaN", `value of ${line}`);
    samples.set(match[1], value);
  }
  return samples;
}

/** One call the recording service saw. */
export interface ServiceCall {
  method: string;
  args: unknown[];
}

/** The `QueueService` methods that answer at once rather than with a promise. */
const synchronousMethods = new Set(["queueIsFifo"]);

/**
 * A `QueueService` that records its calls and answers each method with `answers[method]` (a
 * value, or a function of the arguments that may throw). Unscripted methods answer `{}`
 * (`queueIsFifo`: false).
 */
export function recordingService(
  answers: Partial<Record<keyof QueueService, unknown>> = {},
): { service: QueueService; calls: ServiceCall[] } {
  const calls: ServiceCall[] = [];
  const service = new Proxy({}, {
    get(_target, method: string) {
      return (...args: unknown[]) => {
        calls.push({ method, args });
        const answer = (answers as Record<string, unknown>)[method];
        if (synchronousMethods.has(method)) {
          return typeof answer === "function" ? answer(...args) : answer ?? false;
        }
        try {
          const value = typeof answer === "function" ? answer(...args) : answer ?? {};
          return Promise.resolve(value);
        } catch (error) {
          return Promise.reject(error);
        }
      };
    },
  }) as QueueService;
  return { service, calls };
}

/** A `NodeStatus` whose answers the test controls. */
export class FakeStatus implements NodeStatus {
  isReady = true;
  /** What `failure()` answers. */
  failed: string | null = null;
  /** What `removal()` answers. */
  removedWhy: string | null = null;
  leader: string | null = null;
  engineMetrics = "# TYPE cmqd_engine_up gauge\ncmqd_engine_up 1\n";

  ready(): boolean {
    return this.isReady;
  }

  failure(): string | null {
    return this.failed;
  }

  removal(): string | null {
    return this.removedWhy;
  }

  cluster(): ClusterInfo {
    return {
      nodeId: "n1",
      role: "leader",
      term: 3,
      leaderId: "n1",
      commitIndex: 10,
      appliedIndex: 10,
      nodes: [{ id: "n1", url: "http://127.0.0.1:1", role: "leader", matchIndex: 10, lag: 0 }],
    };
  }

  metricsText(): string {
    return this.engineMetrics;
  }

  leaderUrl(): string | null {
    return this.leader;
  }
}

/** A JSON request for `app.request()`. */
export function jsonRequest(method: string, body: unknown, headers: Record<string, string> = {}) {
  return {
    method,
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  };
}
