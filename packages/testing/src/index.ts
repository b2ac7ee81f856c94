/** @renderq/testing: real services for tests and for running renderq on one machine. */
export { stopLeftoverChildren } from './child-registry.js';
export { dockerAvailable } from './docker.js';
export { freePort } from './free-port.js';
export { type NodeService, type SpawnServiceOptions, spawnNodeService } from './node-service.js';
export { type RedisServerOptions, RedisServerProcess } from './redis-server-process.js';
export { type RedisHandle, type StartRedisOptions, startRedis } from './start-redis.js';
export { type S3Handle, startS3 } from './start-s3.js';
export { uniqueName } from './unique-name.js';
export {
  type ReceivedWebhook,
  type ReceiverAnswer,
  startWebhookReceiver,
  type WebhookReceiver,
} from './webhook-receiver.js';
