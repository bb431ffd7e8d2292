import { describe, expect, it } from 'vitest';
import { EventHub, type EventTransport } from './events.ts';

/** A transport that records when each notification went out. */
function recording(): EventTransport & { sentAt: number[] } {
  const sentAt: number[] = [];
  return { sentAt, publish: async () => void sentAt.push(performance.now()), subscribe: async () => async () => {} };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EventHub notification pacing', () => {
  it('sends a few notifications back to back after a quiet spell (a run end right after its tokens)', async () => {
    const transport = recording();
    const hub = new EventHub();
    await hub.connect(transport);
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const emitted = performance.now();
      hub.emit({ type: 'agent.token', at: Date.now() });
      while (transport.sentAt.length === i) await new Promise((r) => setImmediate(r));
      delays.push(transport.sentAt[i]! - emitted);
    }
    // Each went without waiting out the 20 ms gap behind the one before.
    expect(delays.every((d) => d < 15), delays.join(', ')).toBe(true);
  });

  it('paces a busy process to 50 notifications a second once the burst is spent', async () => {
    const transport = recording();
    const hub = new EventHub();
    await hub.connect(transport);
    const start = performance.now();
    while (performance.now() - start < 200) {
      hub.emit({ type: 'progress', at: Date.now() });
      await settle(1);
    }
    const elapsed = performance.now() - start;
    // Events emitted meanwhile gather into the next notification: 3 at once, then one per 20 ms.
    expect(transport.sentAt.length).toBeLessThanOrEqual(3 + Math.ceil(elapsed / 20) + 1);
    expect(transport.sentAt.length).toBeGreaterThan(3);
  });
});

describe('EventHub payloads', () => {
  it('keeps every notification under 8,000 bytes, counting non-ASCII text in bytes, and loses no event', async () => {
    const payloads: string[] = [];
    const hub = new EventHub();
    await hub.connect({ publish: async (p) => void payloads.push(p), subscribe: async () => async () => {} });
    // 40 token events of 1,000 CJK characters: 1,000 characters but 3,000 bytes each.
    const text = '流'.repeat(1000);
    for (let i = 0; i < 40; i++) hub.emit({ type: 'agent.token', topic: 'run:x', data: { i, text }, at: 1 });
    await hub.disconnect();
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8000);
    const received = payloads.flatMap((p) => (JSON.parse(p) as { e: { data: { i: number; text: string } }[] }).e);
    expect(received.map((e) => e.data.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(received.every((e) => e.data.text === text)).toBe(true);
  });
});
