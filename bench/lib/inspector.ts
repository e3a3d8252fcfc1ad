/**
 * A minimal Chrome DevTools Protocol client for benchmarks that look inside the sidecar through
 * `--inspect` (heap snapshots, CPU profiles).
 *
 * @module
 */

/** A free TCP port on loopback (free when asked; the inspector takes it right after). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
export class Inspector {
  readonly #ws: WebSocket;
  #id = 0;
  readonly #pending = new Map<number, (msg: Record<string, unknown>) => void>();
  readonly #listeners = new Map<string, (params: Record<string, unknown>) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      if (typeof msg.id === "number") {
        this.#pending.get(msg.id)?.(msg);
        this.#pending.delete(msg.id);
      } else if (typeof msg.method === "string") {
        this.#listeners.get(msg.method)?.(msg.params ?? {});
      }
    };
  }

  /** Connects to the first target; waits until the inspector lists one (`--inspect-wait` too). */
  static async connect(port: number): Promise<Inspector> {
    let targets: { webSocketDebuggerUrl: string }[] = [];
    while (targets.length === 0) {
      targets = await fetch(`http://127.0.0.1:${port}/json/list`)
        .then((r) => r.json()).catch(() => []);
      if (targets.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    return new Inspector(ws);
  }

  on(method: string, f: (params: Record<string, unknown>) => void): void {
    this.#listeners.set(method, f);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#pending.set(
        id,
        (msg) => msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg),
      );
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}
