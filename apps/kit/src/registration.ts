import type { AddressInfo } from 'node:net';
import { etcdHosts, type CommonConfig, type ServiceApp } from './service.ts';
import { EtcdRegistration } from '@lifeline/discovery/etcd';

/**
 * Registers the process in etcd once its server listens (the port is known then, `--port 0`
 * included), and deregisters it first thing at shutdown, so callers stop picking it before it
 * stops accepting. The registration is constructed and handed to the shutdown before it
 * starts (what `register()` does in one step), so a shutdown while etcd is still unreachable
 * stops the attempts instead of leaving them running.
 *
 * @example
 * selfRegister(payment, { service: 'payment', registry: 'etcd://127.0.0.1:2379', config });
 */
export function selfRegister(
  target: Pick<ServiceApp, 'app' | 'lifeline' | 'logger'>,
  options: { service: string; registry: string; config: Pick<CommonConfig, 'host' | 'instance'> },
): void {
  const { app, lifeline, logger } = target;
  const hosts = etcdHosts(options.registry);
  // A wildcard address is where the process listens, not where others reach it.
  const host = options.config.host === '0.0.0.0' || options.config.host === '::' ? '127.0.0.1' : options.config.host;
  app.addHook('onListen', async () => {
    const { port } = app.server.address() as AddressInfo;
    const registration = new EtcdRegistration({
      hosts,
      service: options.service,
      instance: { id: options.config.instance, host, port },
      logger,
    });
    lifeline.deregisterOnShutdown(registration);
    await registration.start();
    logger.info({ key: registration.key, address: `${host}:${port}` }, `${options.service} registered`);
  });
}
