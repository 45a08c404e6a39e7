import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Sink } from "../../../src/agent/sinks/sink.js";

/**
 * The contract every sink kind passes (STYLE rule 16). `make` builds a sink in a fresh directory and
 * says how to read back what it holds and how to make its next write fail.
 */
export interface SinkUnderTest {
  sink: Sink;
  read(): Promise<string | undefined>;
  /** Makes the following writes fail until `repair` is called. */
  breakWrites(): Promise<void>;
  repair(): Promise<void>;
}

export const sinkContract = (kind: string, make: (dir: string) => Promise<SinkUnderTest>) =>
  describe(`${kind} sink contract`, () => {
    const fresh = () => make(mkdtempSync(join(tmpdir(), `kms-sink-${kind}-`)));

    test("a write is read back exactly", async () => {
      const s = await fresh();
      await s.sink.write("kmsat.abc.def");
      assert.equal(await s.read(), "kmsat.abc.def");
    });

    test("a second write replaces the first, never half of it", async () => {
      const s = await fresh();
      await s.sink.write("x".repeat(100_000));
      await s.sink.write("short");
      assert.equal(await s.read(), "short");
    });

    test("concurrent writes leave one whole token, never a mix", async () => {
      const s = await fresh();
      const tokens = Array.from({ length: 20 }, (_, i) => `${i}`.repeat(5_000));
      await Promise.all(tokens.map((t) => s.sink.write(t)));
      assert.ok(tokens.includes((await s.read())!));
    });

    test("writing the empty string empties the sink", async () => {
      const s = await fresh();
      await s.sink.write("token");
      await s.sink.write("");
      assert.equal(await s.read(), "");
    });

    test("a failed write leaves the previous token in place", async () => {
      const s = await fresh();
      await s.sink.write("good");
      await s.breakWrites();
      await assert.rejects(s.sink.write("never"));
      await s.repair();
      assert.equal(await s.read(), "good");
    });

    test("the sink has a name for log lines", async () => {
      const s = await fresh();
      assert.match(s.sink.name, /\S/);
    });
  });
