import type { Domain } from './runtime/domain.ts';

/**
 * Every domain Nova ships, in one list the runtime reads. Each domain declares its own queues,
 * loops and roles in its folder; nothing is wired by hand in main.
 */
export const domains: Domain[] = [];
