import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { listCache } from "../../../src/core/secrets/list-cache.js";

describe("list cache", () => {
  test("an entry is served only for the stamp it was stored with", () => {
    const c = listCache<string>(10);
    c.set("k", "gen1", "answer", 1);
    assert.equal(c.get("k", "gen1"), "answer");
    assert.equal(c.get("k", "gen2"), undefined, "a newer stamp is a miss");
    assert.equal(c.get("k", "gen1"), undefined, "and the stale entry is gone");
  });

  test("total weight is bounded, least recently used goes first", () => {
    const c = listCache<string>(10);
    c.set("a", "s", "A", 4);
    c.set("b", "s", "B", 4);
    assert.equal(c.get("a", "s"), "A", "touch a: b is now the oldest");
    c.set("c", "s", "C", 4);
    assert.equal(c.get("b", "s"), undefined);
    assert.equal(c.get("a", "s"), "A");
    assert.equal(c.get("c", "s"), "C");
  });

  test("an answer heavier than the whole cache is not kept", () => {
    const c = listCache<string>(10);
    c.set("small", "s", "x", 1);
    c.set("huge", "s", "y", 11);
    assert.equal(c.get("huge", "s"), undefined);
    assert.equal(c.get("small", "s"), "x", "and it did not push anything out");
  });

  test("replacing a key keeps the weight accounting right", () => {
    const c = listCache<string>(10);
    for (let i = 0; i < 100; i++) c.set("k", `s${i}`, `v${i}`, 6);
    c.set("other", "s", "o", 4);
    assert.equal(c.get("k", "s99"), "v99");
    assert.equal(c.get("other", "s"), "o");
  });
});
