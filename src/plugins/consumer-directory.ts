/**
 * Consumers and their credentials, indexed once per snapshot so an auth plugin resolves a key,
 * a username or a JWT issuer with one Map lookup. Built in each worker from the normalized
 * config; read-only afterwards.
 */
import type {
  BasicAuthCredentialConfig,
  ConsumerConfig,
  JwtSecretConfig,
  KeyAuthCredentialConfig,
  NormalizedConfig,
} from '../config/types';

const NO_GROUPS: readonly string[] = Object.freeze([]);

export class ConsumerDirectory {
  readonly #byId = new Map<string, ConsumerConfig>();
  readonly #byUsername = new Map<string, ConsumerConfig>();
  readonly #keyAuth = new Map<string, KeyAuthCredentialConfig>();
  readonly #basicAuth = new Map<string, BasicAuthCredentialConfig>();
  readonly #jwt = new Map<string, JwtSecretConfig>();
  readonly #groups = new Map<string, string[]>();

  constructor(config: Pick<NormalizedConfig, 'consumers' | 'credentials'>) {
    for (const c of config.consumers) {
      this.#byId.set(c.id, c);
      if (c.username !== null) this.#byUsername.set(c.username, c);
    }
    for (const k of config.credentials.keyauth) this.#keyAuth.set(k.key, k);
    for (const b of config.credentials.basicauth) this.#basicAuth.set(b.username, b);
    for (const j of config.credentials.jwt) this.#jwt.set(j.key, j);
    for (const a of config.credentials.acls) {
      let list = this.#groups.get(a.consumer);
      if (list === undefined) this.#groups.set(a.consumer, (list = []));
      list.push(a.group);
    }
  }

  static empty(): ConsumerDirectory {
    return new ConsumerDirectory({ consumers: [], credentials: { keyauth: [], basicauth: [], jwt: [], acls: [], hmacauth: [] } });
  }

  /** By id, or by username (as Kong resolves `anonymous`). */
  consumer(idOrUsername: string): ConsumerConfig | undefined {
    return this.#byId.get(idOrUsername) ?? this.#byUsername.get(idOrUsername);
  }

  keyAuthCredential(key: string): KeyAuthCredentialConfig | undefined {
    return this.#keyAuth.get(key);
  }

  basicAuthCredential(username: string): BasicAuthCredentialConfig | undefined {
    return this.#basicAuth.get(username);
  }

  jwtSecret(key: string): JwtSecretConfig | undefined {
    return this.#jwt.get(key);
  }

  /** The consumer's acl groups, in file order. */
  groups(consumerId: string): readonly string[] {
    return this.#groups.get(consumerId) ?? NO_GROUPS;
  }
}
