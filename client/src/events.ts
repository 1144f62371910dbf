/** A small typed event emitter: `on` returns the function that removes the listener. */
export class TypedEvents<E extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof E, Set<(data: never) => void>>();

  on<K extends keyof E>(name: K, listener: (data: E[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) this.listeners.set(name, (set = new Set()));
    set.add(listener as (data: never) => void);
    return () => set.delete(listener as (data: never) => void);
  }

  protected emit<K extends keyof E>(name: K, data: E[K]): void {
    for (const l of this.listeners.get(name) ?? []) {
      try {
        (l as (d: E[K]) => void)(data);
      } catch (err) {
        // One app listener that throws must not keep the others (or the client) from running.
        queueMicrotask(() => { throw err; });
      }
    }
  }
}
