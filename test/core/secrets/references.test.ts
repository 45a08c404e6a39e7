import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { expandReferences, expansionBudget, MAX_REFERENCES_PER_REQUEST, parseReference, type SecretRef } from "../../../src/core/secrets/references.js";
import { ForbiddenError } from "../../../src/core/errors.js";

/** A project as `env:path:KEY` → raw value. */
const world: Record<string, string> = {
  "dev:/:HOST": "db.internal",
  "dev:/:PORT": "5432",
  "dev:/:URL": "postgres://${HOST}:${PORT}/app",
  "dev:/:EMPTY": "",
  "dev:/app:NAME": "app-${HOST}",
  "dev:/app/db:USER": "svc",
  "prod:/:HOST": "db.prod",
  "prod:/shared:TOKEN": "t-${SALT}",
  "prod:/shared:SALT": "s",
  "dev:/:A": "${B}",
  "dev:/:B": "${A}",
  "dev:/:SELF": "x${SELF}",
  "dev:/:ML": "line1\nline2",
  "dev:/:DOLLAR": "$& $1 $$",
};
// A chain of 15 references: C0 → C1 → ... → C14 = "end".
for (let i = 0; i < 14; i++) world[`dev:/:C${i}`] = `\${C${i + 1}}`;
world["dev:/:C14"] = "end";

const resolve = (r: SecretRef) => world[`${r.environment}:${r.secretPath}:${r.key}`];
const at = (value: string, o: Partial<SecretRef> & { skipMultilineEncoding?: boolean } = {}) =>
  ({ environment: "dev", secretPath: "/", key: "X", value, ...o });

describe("parseReference", () => {
  const from = { environment: "dev", secretPath: "/app" };
  const cases: { name: string; inner: string; want: SecretRef | undefined }[] = [
    { name: "local key stays in the folder", inner: "KEY", want: { environment: "dev", secretPath: "/app", key: "KEY" } },
    { name: "env.KEY is the env root", inner: "prod.KEY", want: { environment: "prod", secretPath: "/", key: "KEY" } },
    { name: "env.a.b.KEY is folder /a/b", inner: "prod.a.b.KEY", want: { environment: "prod", secretPath: "/a/b", key: "KEY" } },
    { name: "empty part is malformed", inner: "prod..KEY", want: undefined },
    { name: "leading dot is malformed", inner: ".KEY", want: undefined },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parseReference(c.inner, from), c.want));
});

describe("expandReferences", () => {
  const cases: { name: string; secret: ReturnType<typeof at>; want: string }[] = [
    { name: "no reference", secret: at("plain"), want: "plain" },
    { name: "local reference", secret: at("${HOST}"), want: "db.internal" },
    { name: "nested references", secret: at("${URL}"), want: "postgres://db.internal:5432/app" },
    { name: "other environment root", secret: at("${prod.HOST}"), want: "db.prod" },
    { name: "other environment folder, nested ref resolves in the target's folder", secret: at("${prod.shared.TOKEN}"), want: "t-s" },
    { name: "folder reference in the same env", secret: at("${dev.app.db.USER}@${HOST}"), want: "svc@db.internal" },
    { name: "a nested local reference is looked up in the target's folder, not the referrer's", secret: at("${dev.app.NAME}"), want: "app-${HOST}" },
    { name: "local reference from a sub-folder", secret: at("${USER}", { secretPath: "/app/db" }), want: "svc" },
    { name: "missing reference left verbatim", secret: at("a ${NOPE} b"), want: "a ${NOPE} b" },
    { name: "missing environment left verbatim", secret: at("${qa.HOST}"), want: "${qa.HOST}" },
    { name: "empty target left verbatim", secret: at("${EMPTY}"), want: "${EMPTY}" },
    { name: "malformed reference left verbatim", secret: at("${dev..HOST}"), want: "${dev..HOST}" },
    { name: "non-reference syntax untouched", secret: at("${a b} $HOST {HOST}"), want: "${a b} $HOST {HOST}" },
    { name: "cycle stops silently", secret: at("${A}", { key: "A" }), want: "${B}" },
    { name: "self reference stops silently", secret: at("x${SELF}", { key: "SELF" }), want: "xx${SELF}" },
    { name: "depth limit stops after 10 levels", secret: at("${C0}"), want: "${C10}" },
    { name: "replacement patterns in values are literal", secret: at("${DOLLAR}"), want: "$& $1 $$" },
    { name: "skipMultilineEncoding quotes an expanded multi-line value", secret: at("${ML}", { skipMultilineEncoding: true }), want: '"line1\\nline2"' },
    { name: "skipMultilineEncoding leaves single lines alone", secret: at("${HOST}", { skipMultilineEncoding: true }), want: "db.internal" },
    { name: "without skipMultilineEncoding newlines stay", secret: at("${ML}"), want: "line1\nline2" },
    { name: "skipMultilineEncoding ignores values without references", secret: at("a\nb", { skipMultilineEncoding: true }), want: "a\nb" },
  ];
  for (const c of cases) test(c.name, async () => assert.equal(await expandReferences(c.secret, { resolve }), c.want));

  test("every referenced secret is authorized, and a refusal names it", async () => {
    const seen: string[] = [];
    const authorize = (r: SecretRef, by: SecretRef) => {
      seen.push(`${r.environment}:${r.secretPath}:${r.key}<-${by.key}`);
      if (r.environment === "prod") throw new ForbiddenError(`no access to secret '${r.key}' in environment '${r.environment}'`);
    };
    assert.equal(await expandReferences(at("${URL}"), { resolve, authorize }), "postgres://db.internal:5432/app");
    assert.deepEqual(seen, ["dev:/:URL<-X", "dev:/:HOST<-URL", "dev:/:PORT<-URL"]);
    await assert.rejects(expandReferences(at("${prod.HOST}"), { resolve, authorize }), /secret 'HOST' in environment 'prod'/);
  });

  test("a value that multiplies references past the budget is answered unexpanded, and the budget is spent for the values after it", async () => {
    // F0 = ten ${F1}, ..., F9 = "x": 10^9 substitutions without a bound.
    const fan: Record<string, string> = { F9: "x" };
    for (let i = 0; i < 9; i++) fan[`F${i}`] = `\${F${i + 1}}`.repeat(10);
    let visits = 0;
    const res = (r: SecretRef) => (visits++, fan[r.key]);
    const budget = expansionBudget();
    assert.equal(await expandReferences(at(fan.F0!), { resolve: res, budget }), fan.F0);
    assert.ok(visits <= MAX_REFERENCES_PER_REQUEST + 1, `${visits} references followed`);
    assert.equal(await expandReferences(at("${F8}"), { resolve: res, budget }), "${F8}", "nothing left for the next value");
    assert.equal(await expandReferences(at("${F8}"), { resolve: res }), "x".repeat(10), "a fresh budget expands it");
  });

  test("expanded characters are counted across the values of one budget", async () => {
    const big = "b".repeat(6 * 1024 * 1024);
    const res = () => big;
    const budget = expansionBudget();
    assert.equal(await expandReferences(at("${BIG}"), { resolve: res, budget }), big);
    assert.equal(await expandReferences(at("${BIG}"), { resolve: res, budget }), big);
    assert.equal(await expandReferences(at("${BIG}"), { resolve: res, budget }), "${BIG}", "18 MiB would pass 16 MiB");
    assert.equal(await expandReferences(at("${BIG}"), { resolve: res, budget }), "${BIG}");
  });

  test("resolution is asynchronous-friendly", async () => {
    const slow = async (r: SecretRef) => { await new Promise((res) => setTimeout(res, 1)); return resolve(r); };
    assert.equal(await expandReferences(at("${URL}"), { resolve: slow }), "postgres://db.internal:5432/app");
  });
});
