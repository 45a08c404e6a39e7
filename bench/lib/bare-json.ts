/**
 * The HTTP ceiling for a read route: a bare Fastify process answering every GET with the exact bytes of a
 * file (e.g. a captured `kms server` response), as JSON, with no auth, no database and no ETag. Whatever the
 * real route costs on top of this is what the server's own work costs.
 *
 *   node --import tsx bench/lib/bare-json.ts <file>      prints "listening on <url>"
 */
import { readFileSync } from "node:fs";
import Fastify from "fastify";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: bare-json.ts <file with the response body>\n");
  process.exit(2);
}
const payload = readFileSync(file);

const app = Fastify({ logger: false });
app.get("/*", async (_req, reply) => reply.type("application/json; charset=utf-8").send(payload));
await app.listen({ host: "127.0.0.1", port: 0 });
process.stdout.write(`listening on http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
