// Exits 0 when the PostgreSQL of NOVA_TEST_DATABASE_URL and the Redis of REDIS_URL both answer.
import net from 'node:net';
import postgres from 'postgres';

async function checkPostgres(url) {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch (err) {
    console.error(`PostgreSQL at ${url}: ${err.message}`);
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function checkRedis(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok, why) => {
      if (!ok) console.error(`Redis at ${url}: ${why}`);
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(5000, () => done(false, 'timeout'));
    socket.on('error', (err) => done(false, err.message));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG'), `unexpected reply ${d}`));
  });
}

for (const name of ['NOVA_TEST_DATABASE_URL', 'REDIS_URL']) {
  if (!process.env[name]) {
    console.error(`${name} is not set`);
    process.exit(1);
  }
}

const results = await Promise.all([
  checkPostgres(process.env.NOVA_TEST_DATABASE_URL),
  checkRedis(process.env.REDIS_URL),
]);
process.exit(results.every(Boolean) ? 0 : 1);
