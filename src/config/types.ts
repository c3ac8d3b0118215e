/**
 * The normalized declarative config: what the primary produces after loading, validating and
 * resolving a Kong-style file, and what it sends to every worker.
 *
 * It is plain data on purpose (no RegExp, no functions, no Maps) so that it survives
 * structured cloning through worker `postMessage`. Every Kong default is already applied and
 * every reference (route -> service, service -> upstream, plugin -> scope) is resolved to an id,
 * so a worker never has to look anything up by name or guess a default.
 */

export type Protocol = 'http' | 'https' | 'grpc' | 'grpcs';

export interface ServiceConfig {
  /** The entity's `id`, or a stable id derived from its name (or position) when absent. */
  readonly id: string;
  readonly name: string | null;
  readonly protocol: Protocol;
  /** A hostname, an IP, or the name of an entry in `upstreams`. */
  readonly host: string;
  readonly port: number;
  /** `null` when the service has no path (Kong treats it as `/`). */
  readonly path: string | null;
  readonly retries: number;
  /** Milliseconds, as in Kong. */
  readonly connectTimeout: number;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  /** Name of the upstream this service balances over, when `host` names one; else `null`. */
  readonly upstream: string | null;
  readonly tlsVerify: boolean;
  readonly enabled: boolean;
  readonly tags: readonly string[];
}

export interface RouteConfig {
  readonly id: string;
  readonly name: string | null;
  /** Service id; `null` only for a route with no service (answers 503 as Kong does). */
  readonly service: string | null;
  readonly protocols: readonly Protocol[];
  /** Upper-case method names, or `null` when unset. */
  readonly methods: readonly string[] | null;
  /** Lower-cased hosts, possibly with one leading/trailing `*` or an explicit `:port`; `null` when unset. */
  readonly hosts: readonly string[] | null;
  /** As written in the file (plain prefixes, or `~regex`); `null` when unset. */
  readonly paths: readonly string[] | null;
  /** Lower-cased header name -> accepted values (`~*` prefix = case-insensitive regex); `null` when unset. */
  readonly headers: Readonly<Record<string, readonly string[]>> | null;
  readonly stripPath: boolean;
  readonly preserveHost: boolean;
  readonly regexPriority: number;
  readonly httpsRedirectStatusCode: number;
  readonly requestBuffering: boolean;
  readonly responseBuffering: boolean;
  /** Position in the file (0-based, over all routes, nested ones included); the last tie-breaker. */
  readonly order: number;
  readonly tags: readonly string[];
}

export interface TargetConfig {
  /** `host:port` (port defaults to 8000, as in Kong). IPv6 hosts keep their brackets. */
  readonly target: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export interface UpstreamConfig {
  readonly id: string;
  readonly name: string;
  readonly algorithm: 'round-robin' | 'least-connections' | 'consistent-hashing' | 'latency';
  readonly slots: number;
  readonly targets: readonly TargetConfig[];
  /** Kong's `healthchecks` block as given (Kong's field names, defaults applied). */
  readonly healthchecks: HealthchecksConfig;
  /** Envoy-style additions (README "Upstream resilience"). */
  readonly outlierDetection: { readonly ejectionTime: number; readonly maxEjectionPercent: number };
  readonly circuitBreakers: {
    readonly maxConnections: number;
    readonly maxPendingRequests: number;
    readonly maxRequests: number;
    readonly maxRetries: number;
  };
  readonly retryBudget: {
    readonly budgetPercent: number;
    readonly minRetries: number;
    readonly window: number;
    readonly backoffBaseMs: number;
    readonly backoffMaxMs: number;
  };
  readonly hashOn: string;
  readonly hashFallback: string;
  readonly hashOnHeader: string | null;
  readonly hashFallbackHeader: string | null;
  readonly hashOnCookie: string | null;
  readonly hashOnCookiePath: string;
  readonly hashOnQueryArg: string | null;
  readonly hashFallbackQueryArg: string | null;
  readonly tags: readonly string[];
}

/** Kong's `healthchecks` structure (seconds, counters; 0 disables a counter or an interval). */
export interface HealthchecksConfig {
  readonly active: {
    readonly type: 'tcp' | 'http' | 'https' | 'grpc' | 'grpcs';
    readonly timeout: number;
    readonly concurrency: number;
    readonly http_path: string;
    readonly https_sni: string | null;
    readonly https_verify_certificate: boolean;
    readonly headers: Readonly<Record<string, readonly string[]>> | null;
    readonly healthy: { readonly interval: number; readonly http_statuses: readonly number[]; readonly successes: number };
    readonly unhealthy: {
      readonly interval: number;
      readonly http_statuses: readonly number[];
      readonly tcp_failures: number;
      readonly timeouts: number;
      readonly http_failures: number;
    };
  };
  readonly passive: {
    readonly type: 'tcp' | 'http' | 'https' | 'grpc' | 'grpcs';
    readonly healthy: { readonly http_statuses: readonly number[]; readonly successes: number };
    readonly unhealthy: {
      readonly http_statuses: readonly number[];
      readonly tcp_failures: number;
      readonly timeouts: number;
      readonly http_failures: number;
    };
  };
  readonly threshold: number;
}

export interface ConsumerConfig {
  readonly id: string;
  readonly username: string | null;
  readonly customId: string | null;
  readonly tags: readonly string[];
}

/** key-auth credential. */
export interface KeyAuthCredentialConfig {
  readonly id: string;
  /** Consumer id. */
  readonly consumer: string;
  readonly key: string;
  readonly tags: readonly string[];
}

/**
 * basic-auth credential. The password from the file is never kept: only a salted SHA-256 of it
 * (hex), computed at load time, so a worker compares hashes in constant time.
 */
export interface BasicAuthCredentialConfig {
  readonly id: string;
  readonly consumer: string;
  readonly username: string;
  readonly salt: string;
  readonly passwordHash: string;
  readonly tags: readonly string[];
}

export type JwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'ES256' | 'ES384'
  | 'EdDSA';

/** jwt credential (Kong's jwt_secrets). */
export interface JwtSecretConfig {
  readonly id: string;
  readonly consumer: string;
  /** Matched against the token's `key_claim_name` claim (default `iss`). */
  readonly key: string;
  readonly algorithm: JwtAlgorithm;
  /** HMAC secret (HS*), as written; `null` for asymmetric algorithms. */
  readonly secret: string | null;
  /** PEM public key for RS*, ES*, EdDSA; `null` for HS*. */
  readonly rsaPublicKey: string | null;
  readonly tags: readonly string[];
}

/** acl group membership. */
export interface AclConfig {
  readonly id: string;
  readonly consumer: string;
  readonly group: string;
  readonly tags: readonly string[];
}

/** hmac-auth credential (Kong's hmacauth_credentials). The secret is the HMAC key, as written. */
export interface HmacAuthCredentialConfig {
  readonly id: string;
  readonly consumer: string;
  readonly username: string;
  readonly secret: string;
  readonly tags: readonly string[];
}

export interface CredentialsConfig {
  /** Optional so that configs built in code before hmac-auth existed stay valid; the loader always sets it. */
  readonly hmacauth?: readonly HmacAuthCredentialConfig[];
  readonly keyauth: readonly KeyAuthCredentialConfig[];
  readonly basicauth: readonly BasicAuthCredentialConfig[];
  readonly jwt: readonly JwtSecretConfig[];
  readonly acls: readonly AclConfig[];
}

export interface PluginConfig {
  readonly id: string;
  readonly name: string;
  /** Kong's `instance_name`: unique across plugins when set; `null` when unset. */
  readonly instanceName: string | null;
  readonly enabled: boolean;
  /** Scope: all `null` = global. */
  readonly service: string | null;
  readonly route: string | null;
  readonly consumer: string | null;
  /**
   * The plugin runs only on requests whose scheme is listed (Kong's `protocols`); Kong protocols
   * Floodgate does not serve are dropped. The snapshot compiles per-protocol chains from this.
   */
  readonly protocols: readonly Protocol[];
  /** Validated by the plugin's own schema, with its defaults applied. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly tags: readonly string[];
}

/**
 * A TLS certificate and the SNI names it serves (Kong's `certificates` + `snis`), kept as PEM so a
 * TLS listener can hand them to `tls.createSecureContext` as they are. The key was checked
 * against the certificate at load.
 */
export interface CertificateConfig {
  readonly id: string;
  readonly cert: string;
  readonly key: string;
  /** A second certificate/key pair of the other key type (RSA vs ECDSA), or `null`. */
  readonly certAlt: string | null;
  readonly keyAlt: string | null;
  /** Lower-cased names, possibly with one leading `*.` or trailing `.*` label (Kong's wildcards). */
  readonly snis: readonly string[];
  readonly tags: readonly string[];
}

/** A trusted CA certificate (Kong's `ca_certificates`), PEM. */
export interface CaCertificateConfig {
  readonly id: string;
  readonly cert: string;
  /** SHA-256 of the DER certificate, lower-case hex (Kong's `cert_digest`). */
  readonly certDigest: string;
  readonly tags: readonly string[];
}

export interface NormalizedConfig {
  readonly formatVersion: string;
  readonly services: readonly ServiceConfig[];
  readonly routes: readonly RouteConfig[];
  readonly upstreams: readonly UpstreamConfig[];
  readonly consumers: readonly ConsumerConfig[];
  /** Credentials of every kind, nested or top level, each resolved to its consumer's id. */
  readonly credentials: CredentialsConfig;
  readonly plugins: readonly PluginConfig[];
  /** TLS certificates with their SNIs; empty when the file has none. */
  readonly certificates: readonly CertificateConfig[];
  readonly caCertificates: readonly CaCertificateConfig[];
}
