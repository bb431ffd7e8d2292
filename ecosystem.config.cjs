// PM2: one app per role, as seed 001 ran its processors ("PM2 - Separate Services").
//   npm run build && pm2 start ecosystem.config.cjs && pm2 save
//   pm2 scale nova-threads 5        pm2 logs nova-threads        pm2 restart nova-backfill
// Configuration comes from .env in this folder (read by Nova itself) and the environment.
// Every role is safe to run with any number of instances (singletons hold a database lease),
// so `instances` only sets the starting count. Each process gets its own health port
// (WORKER_HEALTH_PORT, incremented per instance); only `api` listens on PORT.
const roles = [
  { role: 'api' },
  { role: 'webhooks' },
  { role: 'backfill' },
  { role: 'threads', instances: 2 },
  { role: 'completion' },
  { role: 'extraction-queue' },
  { role: 'extraction', instances: 2 },
];

module.exports = {
  apps: roles.map(({ role, instances = 1 }, i) => ({
    name: `nova-${role}`,
    script: 'dist/cli/main.js',
    args: `start ${role}`,
    exec_mode: 'fork',
    instances,
    increment_var: 'WORKER_HEALTH_PORT',
    env: { NODE_ENV: 'production', WORKER_TYPE: role, WORKER_HEALTH_PORT: String(3101 + i * 10) },
    // Longer than SHUTDOWN_TIMEOUT_MS (30 s): running jobs finish before PM2 kills the process.
    kill_timeout: 35_000,
    max_memory_restart: role === 'extraction' ? '512M' : '256M',
  })),
};
