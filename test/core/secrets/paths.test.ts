import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isWithin, joinPath, normalizePath, parentPath, pathSegments, relativePath } from "../../../src/core/secrets/paths.js";
import { isValidSecretName, normalizeSecretValue } from "../../../src/core/secrets/value.js";

describe("normalizePath", () => {
  const ok: { name: string; input: string | undefined; want: string }[] = [
    { name: "absent means root", input: undefined, want: "/" },
    { name: "empty means root", input: "", want: "/" },
    { name: "root", input: "/", want: "/" },
    { name: "plain", input: "/app/db", want: "/app/db" },
    { name: "trailing slash (CLI) dropped", input: "/app/db/", want: "/app/db" },
    { name: "missing leading slash added", input: "app/db", want: "/app/db" },
    { name: "surrounding whitespace trimmed", input: "  /app ", want: "/app" },
    { name: "dashes and underscores", input: "/my-app/db_1", want: "/my-app/db_1" },
  ];
  for (const c of ok) test(c.name, () => assert.equal(normalizePath(c.input, "secretPath"), c.want));

  const bad: { name: string; input: string; error: RegExp }[] = [
    { name: "parent traversal", input: "/a/../b", error: /^secretPath: "\/a\/\.\.\/b" .*'\.\.' segments are not allowed/ },
    { name: "leading traversal", input: "../etc", error: /'\.\.' segments/ },
    { name: "trailing traversal", input: "/a/..", error: /'\.\.' segments/ },
    { name: "dot segment", input: "/a/./b", error: /'\.' segments/ },
    { name: "double slash", input: "//", error: /empty path segment/ },
    { name: "double slash inside", input: "/a//b", error: /empty path segment/ },
    { name: "backslash", input: "/a\\..\\b", error: /backslashes/ },
    { name: "percent-encoded dots stay literal and are refused", input: "/a/%2e%2e/b", error: /segment '%2e%2e'/ },
    { name: "spaces", input: "/my app", error: /segment 'my app'/ },
  ];
  for (const c of bad)
    test(c.name, () => assert.throws(() => normalizePath(c.input, "secretPath"), (e: Error & { wireName?: string }) => {
      assert.match(e.message, c.error);
      assert.equal(e.wireName, "BadRequest");
      return true;
    }));

  test("the field named in the error is the caller's", () =>
    assert.throws(() => normalizePath("/a/../b", "directory"), (e: Error) => e.message.startsWith("directory: ")));
});

describe("path helpers", () => {
  test("segments", () => {
    assert.deepEqual(pathSegments("/"), []);
    assert.deepEqual(pathSegments("/a/b"), ["a", "b"]);
  });
  test("join and parent", () => {
    assert.equal(joinPath("/", "a"), "/a");
    assert.equal(joinPath("/a", "b"), "/a/b");
    assert.equal(parentPath("/a/b"), "/a");
    assert.equal(parentPath("/a"), "/");
  });
  test("within and relative", () => {
    assert.ok(isWithin("/a/b", "/a"));
    assert.ok(isWithin("/a", "/a"));
    assert.ok(!isWithin("/ab", "/a"), "a sibling sharing a prefix is not inside");
    assert.equal(relativePath("/a/b/c", "/a"), "/b/c");
    assert.equal(relativePath("/a", "/a"), "/");
    assert.equal(relativePath("/a/b", "/"), "/a/b");
  });
});

describe("secret names and values (api.md 4.1)", () => {
  const values: { name: string; input: string; want: string }[] = [
    { name: "surrounding spaces trimmed", input: "  a  ", want: "a" },
    { name: "a final newline is kept once", input: "  a\n", want: "a\n" },
    { name: "spaces after the newline drop it", input: "a\n  ", want: "a" },
    { name: "several final newlines become one", input: "a\n\n", want: "a\n" },
    { name: "inner whitespace untouched", input: "a  b\nc", want: "a  b\nc" },
    { name: "empty", input: "", want: "" },
  ];
  for (const c of values) test(`value: ${c.name}`, () => assert.equal(normalizeSecretValue(c.input), c.want));

  test("names", () => {
    assert.ok(isValidSecretName("DB_HOST"));
    assert.ok(isValidSecretName("db.host-1"));
    assert.ok(!isValidSecretName("DB HOST"));
    assert.ok(!isValidSecretName(""));
    assert.ok(!isValidSecretName("A\tB"));
  });
});
