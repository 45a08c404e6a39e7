/**
 * The HTTP ceiling: a bare Fastify route answering a fixed JSON body of a given size, in its own process,
 * with the same Fastify options that matter for speed as `kms server` (no request logging). Whatever our
 * issuance route does on top of this is what the PKI costs.
 *
 *   node --import tsx bench/lib/bare-fastify.ts <bodyBytes>     prints "listening on <url>"
 */
import Fastify from "fastify";

const bytes = Number(process.argv[2] ?? 1024);
// A JSON object of exactly `bytes` bytes: {"certificate":"xxxx…"} (the shape of an issuance answer).
const overhead = JSON.stringify({ certificate: "" }).length;
const payload = JSON.stringify({ certificate: "x".repeat(Math.max(0, bytes - overhead)) });

const app = Fastify({ logger: false });
app.post("/issue", async (_req, reply) => reply.type("application/json").send(payload));
app.get("/api/status", async () => ({ status: "ok" }));
await app.listen({ host: "127.0.0.1", port: 0 });
process.stdout.write(`listening on http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
