export { FeedAggregator, vmKey, type AggregatorOptions, type LeaseInfo } from './aggregate.js';
export { Feed, type FeedListener } from './feed.js';
export { FeedMetrics, failoverReason } from './metrics.js';
export { parseListen, isLoopback, isLoopbackHostHeader, formatUrl, loadDashboard, type ListenAddress } from './listen.js';
export { startFeedSource, type FeedSource, type FeedSourceOptions } from './source.js';
export { startFeedServer, type FeedServer, type FeedServerOptions } from './server.js';
