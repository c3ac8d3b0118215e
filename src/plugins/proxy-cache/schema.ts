import { Type, type Static } from '@sinclair/typebox';

const NullableStrings = Type.Union([Type.Array(Type.String()), Type.Null()], { default: null });

/**
 * Kong 3.9's proxy-cache fields, with its defaults. `strategy` is required as in Kong; Kong OSS
 * ships the `memory` strategy only, and so do we. The memory store's size is the node setting
 * --mem-cache-size (Kong's mem_cache_size), shared by the plugins naming the same dictionary.
 */
export const ProxyCacheSchema = Type.Object(
  {
    response_code: Type.Array(Type.Integer({ minimum: 100, maximum: 900 }), { minItems: 1, default: [200, 301, 404] }),
    request_method: Type.Array(Type.Union(['HEAD', 'GET', 'POST', 'PATCH', 'PUT'].map((m) => Type.Literal(m))), { default: ['GET', 'HEAD'] }),
    /** Exact media-type matches (parameters included); `*` wildcards as in Kong. */
    content_type: Type.Array(Type.String(), { default: ['text/plain', 'application/json'] }),
    cache_ttl: Type.Integer({ exclusiveMinimum: 0, default: 300 }),
    strategy: Type.Literal('memory'),
    cache_control: Type.Boolean({ default: false }),
    ignore_uri_case: Type.Boolean({ default: false }),
    storage_ttl: Type.Union([Type.Integer(), Type.Null()], { default: null }),
    memory: Type.Object({ dictionary_name: Type.String({ minLength: 1, default: 'kong_db_cache' }) }, { additionalProperties: false, default: {} }),
    vary_query_params: NullableStrings,
    vary_headers: NullableStrings,
    response_headers: Type.Object(
      {
        age: Type.Boolean({ default: true }),
        'X-Cache-Status': Type.Boolean({ default: true }),
        'X-Cache-Key': Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type ProxyCacheConfig = Static<typeof ProxyCacheSchema>;
