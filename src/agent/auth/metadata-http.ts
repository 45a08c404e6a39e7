import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { timeoutError } from "../../client/http.js";

/**
 * One request to a cloud metadata service (AWS IMDS, Azure IMDS, the GCE metadata server) on node:http,
 * without undici: its HTTP parser is WebAssembly, which `--jitless` (contrib/ units) leaves out, and it cost
 * every agent about 10 MB (docs/cert-agent.md, "Resource use"). `timeoutMs` bounds the wait for the headers
 * and each pause in the body, as undici's headersTimeout/bodyTimeout did, with its error codes and messages.
 */
export const metadataRequest = (
  url: string,
  o: { method?: "GET" | "PUT"; headers?: Record<string, string>; signal?: AbortSignal; timeoutMs: number },
): Promise<{ statusCode: number; text: string }> =>
  new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (err: Error | undefined, value?: { statusCode: number; text: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      const u = new URL(url);
      const send = u.protocol === "https:" ? httpsRequest : httpRequest;
      req = send(u, { method: o.method ?? "GET", headers: o.headers, signal: o.signal });
    } catch (err) {
      finish(err as Error);
      return;
    }
    const arm = (code: string, message: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => req.destroy(timeoutError(code, message)), o.timeoutMs);
    };
    arm("UND_ERR_HEADERS_TIMEOUT", "Headers Timeout Error");
    req.on("error", (err) => finish(o.signal?.aborted ? (o.signal.reason as Error) : err));
    req.on("response", (res) => {
      arm("UND_ERR_BODY_TIMEOUT", "Body Timeout Error");
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        arm("UND_ERR_BODY_TIMEOUT", "Body Timeout Error");
      });
      res.on("error", (err) => finish(err));
      res.on("close", () => finish(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })));
      res.on("end", () => finish(undefined, { statusCode: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.end();
  });
