/** `kvflow/serve`: the HTTP side: the engine emulator and the workflow-aware gateway. This file only re-exports. */
export { startEngineServer, type EngineServer, type EngineServerOptions } from './engine/engine-server.js';
export { startGateway, GATEWAY_DEFAULTS, type GatewayServer, type GatewayOptions } from './gateway/gateway-server.js';
export { GATEWAY_MODE_NAMES, gatewayMode, type GatewayMode, type GatewayModeName } from './gateway/gateway-mode.js';
export { CacheAwareRouting, type RoutingPolicy, type RouteCandidate, type RouteQuery } from '../sim/cache-aware-routing.js';
export { KvEventPublisher, type KvEventPublisherOptions } from './kv-events/publisher.js';
export { KvEventSubscriber, type KvEventSubscriberOptions, type KvEventSubscriberState } from './kv-events/subscriber.js';
export { KvBlockIndex, type KvBlockIndexOptions, type KvBlockIndexStats } from './kv-events/kv-block-index.js';
export { decodeKvEventBatch, encodeKvEventBatch, KvEventFormatError, type KvEvent, type KvEventBatch, type KvEventFormat } from './kv-events/wire.js';
