import { EtcdResolver } from '@lifeline/discovery/etcd';
import { createLogger, etcdHosts, intOption, parseServiceArgs, runService, startTelemetry, UsageError } from '@lifeline/demo-kit';
import { lifelineDependencies, naiveDependencies } from './dependencies.ts';
import { cockatielDependencies } from './peers/cockatiel.ts';
import { handmadeDependencies } from './peers/handmade.ts';
import { retryAgentDependencies } from './peers/retry-agent.ts';
import { createOrderService } from './service.ts';

// node --conditions=@lifeline/source apps/order-service/src/main.ts --port 4201 \
//   --user http://127.0.0.1:4001 --payment 127.0.0.1:4101,127.0.0.1:4102 [--client naive [--naive-attempt-timeout ms]] [--registry etcd://127.0.0.1:2379]
// --client handmade | cockatiel | retry-agent: the peers in src/peers/, with static --payment endpoints like naive.
await runService('order', async () => {
  const { config, values } = parseServiceArgs(
    'order',
    process.argv.slice(2),
    {
      user: { type: 'string', default: 'http://127.0.0.1:4001' },
      payment: { type: 'string', default: '127.0.0.1:4101,127.0.0.1:4102' },
      client: { type: 'string', default: 'lifeline' },
      'naive-attempt-timeout': { type: 'string' },
    },
    { port: 4201, data: 'data/order.db' },
  );
  const client = values.client;
  const peers = { handmade: handmadeDependencies, cockatiel: cockatielDependencies, 'retry-agent': retryAgentDependencies };
  const peer = Object.hasOwn(peers, client) ? peers[client as keyof typeof peers] : undefined;
  if (client !== 'lifeline' && client !== 'naive' && peer === undefined) {
    throw new UsageError(`--client must be lifeline, naive, handmade, cockatiel or retry-agent, got ${JSON.stringify(client)}`);
  }
  const payment = (values.payment).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (payment.length === 0) throw new UsageError('--payment needs at least one host:port');
  if (client !== 'lifeline' && config.registry !== undefined) throw new UsageError(`--client ${client} takes static --payment endpoints, not --registry`);
  const timeout = values['naive-attempt-timeout'];
  const naiveAttemptTimeoutMs = timeout === undefined ? undefined : intOption('naive-attempt-timeout', timeout, { min: 1, max: 600_000 });
  if (naiveAttemptTimeoutMs !== undefined && client !== 'naive') throw new UsageError('--naive-attempt-timeout is for --client naive');

  const telemetry = startTelemetry({ service: 'order', instance: config.instance, otlpUrl: config.otlpUrl });
  const logger = createLogger({ service: 'order', instance: config.instance });
  const userUrl = values.user;
  const dependencies =
    client === 'naive'
      ? naiveDependencies({ userUrl, payment, attemptTimeoutMs: naiveAttemptTimeoutMs })
      : peer !== undefined
        ? peer({ userUrl, payment })
        : lifelineDependencies({
            userUrl,
            payment: config.registry === undefined ? payment : new EtcdResolver({ hosts: etcdHosts(config.registry) }),
            logger,
          });
  const service = await createOrderService({
    dataPath: config.data,
    instance: config.instance,
    dependencies,
    chaos: { enabled: config.chaos, seed: config.chaosSeed },
    logger,
  });
  service.lifeline.closeOnShutdown(() => telemetry.shutdown());
  logger.info({ client, payment: config.registry ?? payment, user: userUrl }, 'order service configured');
  return { ...service, host: config.host, port: config.port };
});
