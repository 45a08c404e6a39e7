import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEventStream } from "../../../src/client/secret-events.js";

test("the SSE parser: events, ids, comments, multi-line data, CRLF, and chunks split anywhere", async () => {
  const text = ": hello\r\nretry: 1000\r\n\r\nid: a-1\nevent: change\ndata: {\"k\":1}\n\nevent: ready\ndata: line1\ndata: line2\n\ndata: plain\n\nevent: crlf\r\ndata: x\r\n\r\n";
  for (const size of [1, 3, 7, text.length]) {
    const chunks = async function* () {
      for (let i = 0; i < text.length; i += size) yield Buffer.from(text.slice(i, i + size));
    };
    const evs = [];
    for await (const e of parseEventStream(chunks())) evs.push(e);
    assert.deepEqual(evs, [
      { event: "change", data: '{"k":1}', id: "a-1" },
      { event: "ready", data: "line1\nline2", id: "a-1" },
      { event: "message", data: "plain", id: "a-1" },
      { event: "crlf", data: "x", id: "a-1" },
    ], `chunk size ${size}`);
  }
});
