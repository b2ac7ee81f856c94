/** @renderq/testing: real services for tests and for running renderq on one machine. */
export { stopLeftoverChildren } from './child-registry.js';
export { freePort } from './free-port.js';
export { killChildren } from './kill-children.js';
export { type NodeService, spawnNodeService } from './node-service.js';
export { RedisServerProcess } from './redis-server-process.js';
export { type RedisHandle, startRedis } from './start-redis.js';
export { type S3Handle, startS3 } from './start-s3.js';
export { uniqueName } from './unique-name.js';
export {
  type ReceivedWebhook,
  startWebhookReceiver,
  type WebhookReceiver,
} from './webhook-receiver.js';
