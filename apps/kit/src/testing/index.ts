// Test helpers of the demo services: real processes, a real etcd, temp dirs, JSON calls.
export { call, tempDir, type Answer } from './http.ts';
export { runMain, type ServiceProcess } from './process.ts';
export { startEtcd, type Etcd } from './etcd.ts';
