// The payment service as a process:
//   node --conditions=@lifeline/source apps/payment-service/src/main.ts --port 4101 --instance payment-1
import { intOption, parseServiceArgs, runService, selfRegister, startTelemetry } from '@lifeline/demo-kit';

import { createPaymentService } from './service.ts';

await runService('payment', async () => {
  const { config, values } = parseServiceArgs('payment', process.argv.slice(2), { 'work-ms': { type: 'string' }, workers: { type: 'string' }, 'require-idempotency-key': { type: 'boolean', default: false } }, {
    port: 4101,
    data: 'data/payment.db',
  });
  const workMs = values['work-ms'] === undefined ? undefined : intOption('work-ms', values['work-ms'], { min: 0, max: 60_000 });
  const workers = values.workers === undefined ? undefined : intOption('workers', values.workers, { min: 0, max: 10_000 });
  // First: the clients and the server bind to the OpenTelemetry SDK registered when they are made.
  const telemetry = startTelemetry({ service: 'payment', instance: config.instance, otlpUrl: config.otlpUrl });
  const payment = await createPaymentService({
    dataPath: config.data,
    instance: config.instance,
    chaos: { enabled: config.chaos, seed: config.chaosSeed },
    workMs,
    workers,
    requireIdempotencyKey: values['require-idempotency-key'] === true,
  });
  const { app, lifeline, logger } = payment;
  if (config.registry !== undefined) selfRegister(payment, { service: 'payment', registry: config.registry, config });
  lifeline.closeOnShutdown(() => payment.close());
  lifeline.closeOnShutdown(() => telemetry.shutdown());
  return { app, lifeline, logger, host: config.host, port: config.port };
});
