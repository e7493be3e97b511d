// `@lifeline/server/express`: the Express 5 middleware, apart from the main entry so that a
// service without Express never loads it (install `express` to use it).
export { lifelineMiddleware, idempotent, lifelineErrorHandler } from './adapters/express.ts';
