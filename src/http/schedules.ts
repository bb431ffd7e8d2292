import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../runtime/domain.ts';
import { HttpError } from '../runtime/http-error.ts';
import {
  createSchedule, deleteSchedule, listSchedules, NAME_PATTERN, nextOccurrence, ScheduleError, setScheduleEnabled,
  triggerSchedule, type Schedule,
} from '../runtime/schedules.ts';

/**
 * Cron schedule routes of the `api` role (docs/API.md, Schedules): list, create, enable or
 * disable, delete, and fire now. The schedulers of every process pick changes up at once
 * (NOTIFY on nova_schedules).
 */

const nameParam = z.object({ name: z.string().regex(NAME_PATTERN, 'must be 1-200 letters, digits or ._:-') });

const createBody = z
  .object({
    name: z.string().regex(NAME_PATTERN, 'must be 1-200 letters, digits or ._:-'),
    cron: z.string().min(1).max(200),
    timezone: z.string().min(1).max(100).default('UTC'),
    queue: z.string().min(1).max(200),
    payload: z.record(z.string(), z.unknown()).default({}),
    missed: z.enum(['skip', 'run-once']).default('skip'),
    catchUpMs: z.number().int().min(0).optional(),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((body, ctx) => {
    // The reason croner gives (or the unknown zone) goes back to the caller as the 400's message.
    try {
      if (!nextOccurrence(body.cron, body.timezone, new Date())) {
        ctx.addIssue({ code: 'custom', path: ['cron'], message: `"${body.cron}" has no occurrence after now` });
      }
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [/time zone/.test((err as Error).message) ? 'timezone' : 'cron'], message: (err as Error).message });
    }
  });

const patchBody = z.object({ enabled: z.boolean() }).strict();

/** Stored schedules go out as they are: camelCase, times as ISO strings (docs/API.md). */
export function scheduleRoutes(app: FastifyInstance, services: Services): void {
  const { sql, queue } = services;

  app.get('/api/schedules', async () => ({ schedules: await listSchedules(sql) }));

  app.post('/api/schedules', async (req, reply) => {
    const body = createBody.parse(req.body ?? {});
    let schedule: Schedule | undefined;
    try {
      schedule = await createSchedule(sql, body);
    } catch (err) {
      if (err instanceof ScheduleError) throw new HttpError(400, 'invalid_request', err.message);
      throw err;
    }
    if (!schedule) throw new HttpError(409, 'conflict', `a schedule named ${body.name} exists already`);
    return reply.status(201).send({ schedule });
  });

  app.patch('/api/schedules/:name', async (req) => {
    const { name } = nameParam.parse(req.params);
    const { enabled } = patchBody.parse(req.body ?? {});
    const schedule = await setScheduleEnabled(sql, name, enabled);
    if (!schedule) throw new HttpError(404, 'not_found', `no schedule ${name}`);
    return { schedule };
  });

  app.delete('/api/schedules/:name', async (req) => {
    const { name } = nameParam.parse(req.params);
    const outcome = await deleteSchedule(sql, name);
    if (outcome === 'not_found') throw new HttpError(404, 'not_found', `no schedule ${name}`);
    if (outcome === 'declared') {
      throw new HttpError(409, 'declared_in_code', `schedule ${name} is declared by a domain and would come back at the next start; disable it instead`);
    }
    return { deleted: true };
  });

  app.post('/api/schedules/:name/trigger', async (req) => {
    const { name } = nameParam.parse(req.params);
    const fired = await triggerSchedule(sql, queue, name);
    if (!fired) throw new HttpError(404, 'not_found', `no schedule ${name}`);
    return fired;
  });
}
