import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { API_COMMANDS, apiCli } from '../src/cli/api-commands.ts';
import { buildCli } from '../src/cli/commands.ts';
import { domains } from '../src/domains.ts';
import { spawnNova } from './helpers/process.ts';

/** A command's tree as help shows it: names, arguments, options and descriptions. */
function shape(cmd: Command): unknown {
  return {
    name: cmd.name(),
    description: cmd.description(),
    arguments: cmd.registeredArguments.map((a) => [a.name(), a.required, a.variadic]),
    options: cmd.options.map((o) => [o.flags, o.description, o.defaultValue]),
    commands: cmd.commands.map(shape),
  };
}

describe('commands that only talk to the API server', () => {
  const full = buildCli(domains);

  it('are the same commands on their own as in the full command line', async () => {
    for (const name of Object.keys(API_COMMANDS)) {
      const own = (await apiCli(name))!.commands.find((c) => c.name() === name);
      const theirs = full.commands.find((c) => c.name() === name);
      expect(own, name).toBeDefined();
      expect(theirs, name).toBeDefined();
      expect(shape(own!), name).toEqual(shape(theirs!));
    }
    expect(await apiCli('start')).toBeUndefined();
    expect(await apiCli(undefined)).toBeUndefined();
  });

  it('start without loading the domains, and still list every command in the full help', async () => {
    // NODE_DEBUG=esm: Node prints every ES module it loads.
    const light = spawnNova(['queue', '--help'], { NODE_DEBUG: 'esm' }, 'src/cli/main.ts');
    expect(await light.exited).toBe(0);
    expect(light.output()).toContain('Usage: nova queue');
    expect(light.output()).toContain('/src/cli/queue.js');
    expect(light.output()).not.toContain('/src/domains.js');
    // `nova help queue` takes the light path too, and says the same.
    const helpQueue = spawnNova(['help', 'queue'], { NODE_DEBUG: 'esm' }, 'src/cli/main.ts');
    expect(await helpQueue.exited).toBe(0);
    expect(helpQueue.output()).not.toContain('/src/domains.js');
    const usage = (out: string) => out.slice(out.indexOf('Usage: nova queue'));
    expect(usage(helpQueue.output())).toBe(usage(light.output()));
    const fullHelp = spawnNova(['--help'], { NODE_DEBUG: 'esm' }, 'src/cli/main.ts');
    expect(await fullHelp.exited).toBe(0);
    expect(fullHelp.output()).toContain('/src/domains.js');
    for (const name of ['start', 'migrate', ...Object.keys(API_COMMANDS)]) expect(fullHelp.output()).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });
});
