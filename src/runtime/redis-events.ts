import { createClient } from 'redis';
import type { EventTransport } from '../queue/events.ts';


/**
 * Redis pub/sub as the event transport (REDIS_URL): for deployments where many fan-out
 * processes would otherwise each hold a LISTEN connection, or where events should not add
 * commits to PostgreSQL. Publishing and subscribing use separate connections, as Redis requires.
 * The runtime names the channel after its database, so deployments (or test databases) sharing
 * one Redis keep apart.
 */
export async function redisTransport(url: string, channel = 'nova:events'): Promise<EventTransport & { close(): Promise<void> }> {
  const publisher = createClient({ url });
  publisher.on('error', () => {
    // Reconnects by itself; a publish that fails meanwhile reports through the hub's onPublishError.
  });
  await publisher.connect();
  let subscriber: ReturnType<typeof publisher.duplicate> | undefined;
  return {
    async publish(payload) {
      await publisher.publish(channel, payload);
    },
    async subscribe(onPayload) {
      subscriber ??= publisher.duplicate();
      subscriber.on('error', () => {});
      if (!subscriber.isOpen) await subscriber.connect();
      await subscriber.subscribe(channel, onPayload);
      return async () => {
        await subscriber?.unsubscribe(channel);
      };
    },
    async close() {
      await Promise.allSettled([publisher.quit(), subscriber?.isOpen ? subscriber.quit() : undefined]);
    },
  };
}
