import { checkOptionNames, optionNames } from '@lifeline/core';
import type { Chaos } from './chaos.ts';
import { ChaosConfigError, isChaosConfigError } from './errors.ts';
import { jsonAnswer, NOT_FOUND, problemAnswer, type Answer } from './problem.ts';
import { show, type ChaosRule } from './rules.ts';

/** @internal The largest admin request body read, bytes. */
export const MAX_ADMIN_BODY = 1_048_576;

const PUT_KEYS = optionNames<{ enabled: boolean; rules: ChaosRule[] }>({ enabled: true, rules: true });

function invalid(detail: string): Answer {
  return problemAnswer(400, 'CHAOS_INVALID', 'Invalid chaos configuration', detail);
}

function parseBody(body: string | undefined): unknown {
  if (body === undefined || body.trim() === '') throw new ChaosConfigError('body: must be JSON, got an empty body');
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new ChaosConfigError(`body: is not valid JSON (${(error as Error).message})`);
  }
}

/** PUT `{ rules }` or `{ enabled, rules }`: everything validated before anything changes. */
function put(chaos: Chaos, body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ChaosConfigError(`body: must be an object such as { "rules": [...] }, got ${show(body)}`);
  }
  try {
    checkOptionNames('', body, PUT_KEYS);
  } catch (error) {
    throw new ChaosConfigError(`body: ${(error as Error).message.replace(/^lifeline: /, '')}`);
  }
  const { enabled, rules } = body as { enabled?: unknown; rules?: unknown };
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new ChaosConfigError(`enabled: must be true or false, got ${show(enabled)}`);
  if (enabled === undefined && rules === undefined) throw new ChaosConfigError('body: must have `rules`, `enabled` or both');
  if (rules !== undefined) chaos.set(rules);
  if (enabled === false) chaos.disable();
}

/**
 * The admin endpoint's answer to one request, apart from any HTTP framework. `id` is what
 * follows `adminPath/` (undefined for `adminPath` itself); `body` the request body as text.
 *
 * @internal Used by `chaosHandler` and the Fastify plugin.
 */
export function answerAdmin(chaos: Chaos, method: string, id: string | undefined, body: string | undefined): Answer {
  // Disabled means no admin at all: production cannot be switched into chaos remotely.
  if (!chaos.enabled) return NOT_FOUND;
  try {
    if (id === undefined) {
      switch (method) {
        case 'GET':
          return jsonAnswer(200, chaos.snapshot());
        case 'PUT':
          put(chaos, parseBody(body));
          return jsonAnswer(200, chaos.snapshot());
        case 'POST': {
          const rule = chaos.add(parseBody(body));
          return jsonAnswer(201, rule, { location: `${chaos.adminPath}/${rule.id}` });
        }
        case 'DELETE':
          chaos.clear();
          return jsonAnswer(200, chaos.snapshot());
        default:
          return problemAnswer(405, 'METHOD_NOT_ALLOWED', 'Method Not Allowed', `${method} is not allowed here`, { allow: 'GET, PUT, POST, DELETE' });
      }
    }
    if (method !== 'DELETE') {
      return problemAnswer(405, 'METHOD_NOT_ALLOWED', 'Method Not Allowed', `${method} is not allowed here`, { allow: 'DELETE' });
    }
    if (!chaos.remove(id)) return problemAnswer(404, 'CHAOS_RULE_NOT_FOUND', 'Chaos rule not found', `no chaos rule has id '${id}'`);
    return jsonAnswer(200, chaos.snapshot());
  } catch (error) {
    if (isChaosConfigError(error)) return invalid(error.message);
    throw error;
  }
}
