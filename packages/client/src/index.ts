export { LifelineClient, createClient, type ClientSnapshot } from './client.ts';
export type { LifelineOptions, ClientOptions, DispatcherOptions, RequestOptions, HttpMethod, QueryValue, Logger } from './options.ts';
export { lifeline, createInterceptor, createDispatcher, type LifelineDispatcher } from './lifeline.ts';
export type { LifelineInterceptor } from './pipeline.ts';
export { LifelineResponse, type Headers } from './response.ts';
export { ResponseBody } from './response-body.ts';
export { newIdempotencyKey } from './idempotency.ts';
export type { AttemptMessage, RetryMessage, RefusedMessage } from './diagnostics.ts';
/** @deprecated The interceptor takes the pipeline's options: {@link LifelineOptions}. */
export type { LifelineOptions as InterceptorOptions } from './options.ts';
