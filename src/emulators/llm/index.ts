/** Public face of the LLM emulator: import from here, not from the files beside it. */
export { LlmEmulator, type LlmEmulatorStats } from './emulator.ts';
export type { AgentTurnRequest, CompletionRequest, LlmEmulatorOptions, LlmFault } from './options.ts';
