/**
 * Pieces shared by the authentication plugins (key-auth, basic-auth) and acl: Kong's reply
 * bodies, the `anonymous` fallback, the "logical OR" short-circuit, and constant-time compares.
 *
 * Everything here is built once per plugin instance (create time); the per-request paths only
 * read prepared strings and call ctx methods, so no closures or new shapes appear per request.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ConsumerConfig } from '../config/types';
import { messageBody } from '../util/status-messages';
import { Verdict, type PluginContext } from './api';
import type { ConsumerDirectory } from './consumer-directory';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** Kong 3's body for every invalid-credential answer (and `kong.response.error(401)`). */
export const UNAUTHORIZED_BODY = messageBody('Unauthorized');
/** Kong's body when the configured anonymous consumer does not exist (an `error()` -> 500). */
export const UNEXPECTED_BODY = messageBody('An unexpected error occurred');

/**
 * A realm ends up inside a quoted-string of a response header: refuse what would break it (quotes,
 * backslashes, control characters such as CR/LF) at config time.
 */
export const REALM_PATTERN = /^[^"\\\u0000-\u001f\u007f]*$/.source;

/** `["www-authenticate", value]`, the flat header list `ctx.respond` takes. Built once. */
export function wwwAuthenticate(value: string): readonly string[] {
  return Object.freeze(['www-authenticate', value]);
}

/**
 * Kong's "logical OR" between auth plugins: a plugin configured with `anonymous` does nothing when
 * an earlier (higher priority) plugin already authenticated the request with a real credential.
 * An anonymous consumer set by an earlier plugin does not count.
 */
export function hasRealCredential(ctx: PluginContext): boolean {
  return ctx.consumer !== null && ctx.credentialId !== null && !ctx.anonymous;
}

/**
 * The `anonymous` setting, resolved once per snapshot against the consumer directory (by id, then
 * by username, as Kong does). A name that matches no consumer is an error at request time, as in
 * Kong: 500 "An unexpected error occurred".
 */
export class AnonymousFallback {
  /** True when `anonymous` is set (even to a consumer that does not exist). */
  readonly configured: boolean;
  readonly consumer: ConsumerConfig | null;

  constructor(anonymous: string | null, consumers: ConsumerDirectory) {
    this.configured = anonymous !== null && anonymous !== '';
    this.consumer = this.configured ? (consumers.consumer(anonymous!) ?? null) : null;
  }

  /** Authenticate as the anonymous consumer and continue, or answer 500 if it does not exist. */
  apply(ctx: PluginContext): Verdict {
    const consumer = this.consumer;
    if (consumer === null) {
      ctx.respond(500, UNEXPECTED_BODY, JSON_TYPE, null);
      return Verdict.Stop;
    }
    ctx.authenticate(consumer, null, null, true);
    return Verdict.Continue;
  }
}

/**
 * Constant-time equality of two hex digests (the same length for the same algorithm). Different
 * lengths or non-hex input compare unequal; only the length can leak, which is public anyway.
 */
export function hexDigestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length || a.length === 0 || (a.length & 1) !== 0) return false;
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  // Buffer.from stops at the first non-hex pair: a short result means malformed input.
  if (x.length * 2 !== a.length || y.length * 2 !== b.length) return false;
  return timingSafeEqual(x, y);
}

/** Constant-time equality of two strings (compared as UTF-8); the length may leak. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    // Spend the same work as a real compare so the early exit is not an oracle for the content.
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}
