export { LifelineClient, createClient, type ClientSnapshot } from './client.ts';
export type { ClientOptions, RequestOptions, HttpMethod, QueryValue, Logger } from './options.ts';
export { LifelineResponse, type Headers } from './response.ts';
export { ResponseBody } from './response-body.ts';
export { createInterceptor, createDispatcher, type InterceptorOptions } from './interceptor.ts';
export { newIdempotencyKey } from './idempotency.ts';
