// Differential test: every corpus case rendered by Go's text/template (test/template/goref) and by
// our port must produce the same bytes and the same error text.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { corpus } from "./corpus.js";
import type { GoResult } from "./goref.js";
import { buildGoref, goMinor, runGoref } from "./goref.js";
import { renderCase } from "./render-case.js";

process.env.TZ = "UTC"; // sprig's date and now use the local zone; goref runs with TZ=UTC too

const goref = buildGoref();
const required = process.env.KMS_REQUIRE_SERVICES === "1";

if (!goref.ok) {
  const banner = `\n${"!".repeat(78)}\n!! differential template test SKIPPED: ${goref.reason}\n!! Our engine was NOT compared with Go's text/template. Set KMS_REQUIRE_SERVICES=1 to make this fatal.\n${"!".repeat(78)}\n`;
  process.stderr.write(banner);
}

const newEnough = (since: string | undefined, goVersion: string): boolean => {
  if (!since) return true;
  const [maj, min] = goMinor("go" + since);
  const [gmaj, gmin] = goMinor(goVersion);
  return gmaj > maj || (gmaj === maj && gmin >= min);
};

describe("differential: Go text/template vs ours", () => {
  test("goref is available", { skip: !goref.ok && !required ? (goref as { reason: string }).reason : false }, () => {
    assert.ok(goref.ok, goref.ok ? "" : goref.reason);
  });
  if (!goref.ok) return;

  const compared = corpus.filter((c) => !c.differs && newEnough(c.since, goref.goVersion) && (!c.sprig || goref.sprig));
  const results = runGoref(goref.bin, compared);
  const byName = new Map<string, GoResult>(compared.map((c, i) => [c.name, results[i]]));

  test(`corpus holds at least 150 cases (${corpus.length})`, () => {
    assert.ok(corpus.length >= 150);
  });

  for (const c of corpus) {
    const want = byName.get(c.name);
    let skip: string | false = false;
    if (!want && !c.want) {
      skip = c.sprig && !goref.sprig
        ? "Sprig sources not installed for goref (apt-get install golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev)"
        : `needs Go ${c.since}; reference is ${goref.goVersion}`;
    }
    test(c.name, { skip }, async () => {
      const got = await renderCase(c);
      const expected = want ?? c.want!;
      assert.deepEqual(got, expected);
    });
  }
});
