// The user service as a process:
//   node --conditions=@lifeline/source apps/user-service/src/main.ts --port 4001 --instance user-1
import { parseServiceArgs, runService, selfRegister, startTelemetry } from '@lifeline/demo-kit';

import { createUserService } from './service.ts';

await runService('user', async () => {
  const { config } = parseServiceArgs('user', process.argv.slice(2), {}, { port: 4001, data: 'data/user.db' });
  // First: the clients and the server bind to the OpenTelemetry SDK registered when they are made.
  const telemetry = startTelemetry({ service: 'user', instance: config.instance, otlpUrl: config.otlpUrl });
  const user = await createUserService({
    dataPath: config.data,
    instance: config.instance,
    chaos: { enabled: config.chaos, seed: config.chaosSeed },
  });
  const { app, lifeline, logger } = user;
  if (config.registry !== undefined) selfRegister(user, { service: 'user', registry: config.registry, config });
  lifeline.closeOnShutdown(() => user.close());
  lifeline.closeOnShutdown(() => telemetry.shutdown());
  return { app, lifeline, logger, host: config.host, port: config.port };
});
