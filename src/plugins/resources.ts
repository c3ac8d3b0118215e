/**
 * Per-worker resources plugins share (an offload pool, the node-wide rate-limit table, ...), by
 * typed key. The data plane registers what it owns once; a plugin asks by key and falls back to
 * its own default when a resource is absent (a config check, a unit test). The plugin API names
 * no particular plugin's needs: a new shared resource is a new key, not a new PluginEnv field.
 */

/** A typed name; the module that owns the resource exports its key. */
export class ResourceKey<T> {
  readonly name: string;
  /** Carries T for type inference only. */
  declare readonly type?: T;
  constructor(name: string) {
    this.name = name;
  }
}

export class WorkerResources {
  readonly #items = new Map<ResourceKey<unknown>, unknown>();

  set<T>(key: ResourceKey<T>, value: T): this {
    this.#items.set(key, value);
    return this;
  }

  get<T>(key: ResourceKey<T>): T | undefined {
    return this.#items.get(key) as T | undefined;
  }
}
