import { describe, expect, it } from 'vitest';
import { EventHub, type NovaEvent } from '../src/queue/events.ts';
import { redisTransport } from '../src/runtime/redis-events.ts';
import { until } from './helpers/runtime.ts';

/** Runs when REDIS_URL is set (CI sets it and fails when Redis is unreachable). */
describe.runIf(process.env.REDIS_URL)('events over Redis pub/sub', () => {
  it("delivers one process's events to another in order, and not back to the sender", async () => {
    const [a, b] = [await redisTransport(process.env.REDIS_URL!), await redisTransport(process.env.REDIS_URL!)];
    const publisher = new EventHub();
    const listener = new EventHub();
    const heard: NovaEvent[] = [];
    const own: NovaEvent[] = [];
    listener.on((e) => heard.push(e));
    await listener.connect(b);
    await publisher.connect(a);
    publisher.on((e) => own.push(e));
    await publisher.listening;
    try {
      for (let i = 0; i < 50; i++) {
        publisher.emit({ type: 'progress', topic: 'redis:test', data: { i }, at: Date.now() });
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 7));
      }
      await until(() => heard.length === 50, 5000, 'fifty events over Redis');
      expect(heard.map((e) => (e.data as { i: number }).i)).toEqual([...Array(50).keys()]);
      await new Promise((r) => setTimeout(r, 100));
      // The sender's own listener heard each event once (locally), not again through Redis.
      expect(own).toHaveLength(50);
    } finally {
      await Promise.all([publisher.disconnect(), listener.disconnect()]);
      await Promise.all([a.close(), b.close()]);
    }
  });
});
