export async function v1Routes(_app: unknown, _engine: unknown): Promise<void> {}
