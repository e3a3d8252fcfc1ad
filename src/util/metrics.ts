/**
 * Metrics in the Prometheus text format. Each stage of the sidecar says what it counts (a
 * `metrics()` method returning families); the health server only renders them.
 *
 * @module
 */

/** One metric family for {@linkcode renderMetrics}. */
export interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: { labels?: Record<string, string>; value: number }[];
}

/**
 * Renders metric families in the Prometheus text format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics } from "./metrics.ts";
 * assert.equal(
 *   renderMetrics([{ name: "up", help: "Up.", type: "gauge", samples: [{ value: 1 }] }]),
 *   "# HELP up Up.\n# TYPE up gauge\nup 1\n",
 * );
 * ```
 */
export function renderMetrics(metrics: Metric[]): string {
  let out = "";
  for (const m of metrics) {
    out += `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n`;
    for (const s of m.samples) {
      const labels = Object.entries(s.labels ?? {})
        .map(([k, v]) =>
          `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
        )
        .join(",");
      out += `${m.name}${labels ? `{${labels}}` : ""} ${s.value}\n`;
    }
  }
  return out;
}

/**
 * Families of the same name (one per scope, say) merged into one, in first-seen order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeFamilies } from "./metrics.ts";
 * const a = { name: "n", help: "N.", type: "counter" as const, samples: [{ value: 1 }] };
 * assert(mergeFamilies([a, { ...a, samples: [{ value: 2 }] }])[0]!.samples.length === 2);
 * ```
 */
export function mergeFamilies(families: readonly Metric[]): Metric[] {
  const byName = new Map<string, Metric>();
  for (const f of families) {
    const seen = byName.get(f.name);
    if (seen) seen.samples.push(...f.samples);
    else byName.set(f.name, { ...f, samples: [...f.samples] });
  }
  return [...byName.values()];
}

/**
 * The process's own memory: resident set, and V8's heap and external memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processMetrics } from "./metrics.ts";
 * assert(processMetrics().some((m) => m.name === "process_resident_memory_bytes"));
 * ```
 */
export function processMetrics(): Metric[] {
  const m = Deno.memoryUsage();
  const gauge = (name: string, help: string, value: number): Metric => ({
    name,
    help,
    type: "gauge",
    samples: [{ value }],
  });
  return [
    gauge("process_resident_memory_bytes", "Resident memory of the process.", m.rss),
    gauge("gsidecar_js_heap_used_bytes", "V8 heap in use.", m.heapUsed),
    gauge("gsidecar_js_heap_total_bytes", "V8 heap reserved.", m.heapTotal),
    gauge(
      "gsidecar_js_external_bytes",
      "Memory outside the V8 heap held by JavaScript objects.",
      m.external,
    ),
  ];
}

/**
 * One family of one sample each: `[labels, value]` pairs, or a single value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { family } from "./metrics.ts";
 * const m = family("gsidecar_lists_total", "Lists.", "counter", [[{ scope: "a" }, 3]]);
 * assert(m.samples[0]!.labels!.scope === "a");
 * ```
 */
export function family(
  name: string,
  help: string,
  type: Metric["type"],
  samples: number | readonly [Record<string, string>, number][],
): Metric {
  return {
    name,
    help,
    type,
    samples: typeof samples === "number"
      ? [{ value: samples }]
      : samples.map(([labels, value]) => ({ labels, value })),
  };
}
