// `@lifeline/server/fastify`: the Fastify plugin, apart from the main entry so that a service
// without Fastify never loads it (install `fastify` to use it).
export { lifelinePlugin, lifelineErrorHandler, type LifelineFastifyOptions } from './adapters/fastify.ts';
