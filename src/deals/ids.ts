const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `v` is a UUID. onDead hooks check ids with it before writing: a hook that throws on an
 * invalid payload's id would keep its job from ever reaching the dead letters.
 */
export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && UUID.test(v);
}
