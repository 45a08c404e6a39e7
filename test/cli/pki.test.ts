import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KMS_BIN, api, startServer, type TestServer } from "../helpers/server.js";
import { openssl, opensslOk, scratch } from "../helpers/openssl.js";
import { dateOrDuration } from "../../src/cli/pki/common.js";

/** The real `kms pki` against a real server, verified with openssl. */

interface Run { code: number; stdout: string; stderr: string }

describe("kms pki (real CLI, real server)", () => {
  let s: TestServer;
  let projectId = "";
  const slug = "cli-pki";
  const files = scratch("kms-cli-pki-");

  const kms = (args: string[], env: Record<string, string | undefined> = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(process.execPath, [KMS_BIN, "pki", ...args], {
        env: { ...process.env, KMS_ADDRESS: s.address, KMS_TOKEN: s.adminToken, KMS_PROJECT: undefined, ...env }, encoding: "utf8",
      }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
    });
  const ok = async (args: string[]) => {
    const r = await kms(args);
    assert.equal(r.code, 0, `kms pki ${args.join(" ")}\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const json = async (args: string[]) => JSON.parse(await ok([...args, "--output", "json"]));

  before(async () => {
    s = await startServer();
    const p = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: slug, slug, type: "cert-manager" } });
    assert.equal(p.status, 200, p.text);
    projectId = p.body.project.id;
  });
  after(() => s.cleanup());

  test("CAs: a root and an intermediate signed by it, listed and shown by name", async () => {
    const root = await ok(["ca", "create", "--project", slug, "--name", "root-ca", "--common-name", "CLI Root CA", "--organization", "Acme", "--country", "US"]);
    assert.match(root, /^status:\s+active$/m);
    assert.match(root, /^subject:\s+CN=CLI Root CA, O=Acme, C=US$/m);
    const inter = await json(["ca", "create", "--project", projectId, "--name", "issuing-ca", "--type", "intermediate", "--parent", "root-ca",
      "--common-name", "CLI Issuing CA", "--not-after", "5y", "--max-path-length", "0"]);
    assert.equal(inter.status, "active");
    assert.equal(inter.configuration.keyAlgorithm, "EC_prime256v1");
    const list = await json(["ca", "list", "--project", slug]);
    assert.deepEqual(list.map((c: { name: string }) => c.name).sort(), ["issuing-ca", "root-ca"]);
    const table = await ok(["ca", "list", "--project", slug]);
    assert.match(table, /^ID\s+NAME\s+TYPE\s+STATUS\s+KEY\s+NOT AFTER\s+SUBJECT$/m);
    assert.match(table, /issuing-ca\s+intermediate\s+active\s+EC_prime256v1/);
    const shown = await ok(["ca", "get", "issuing-ca", "--project", slug]);
    assert.match(shown, new RegExp(`^id:\\s+${inter.id}$`, "m"));
    assert.match(shown, /^max path length:\s+0$/m);
    const pem = await ok(["ca", "get", inter.id, "--pem"]);
    assert.equal((pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, "intermediate and root");
    writeFileSync(files.path("root.pem"), await ok(["ca", "get", "root-ca", "--project", slug, "--pem"]));
    // Renewal in place: the same CA, a later expiry; the root's new certificate still anchors the intermediate.
    const renewed = await ok(["ca", "renew", "root-ca", "--project", slug, "--not-after", "12y"]);
    assert.match(renewed, new RegExp(`^not after:\\s+${new Date().getUTCFullYear() + 12}-`, "m"));
    const v = openssl("verify", "-CAfile", files.write("renewed-root.pem", await ok(["ca", "get", "root-ca", "--project", slug, "--pem"])),
      files.write("inter.pem", pem.split(/(?<=-----END CERTIFICATE-----)/)[0]!.trim() + "\n"));
    assert.equal(v.status, 0, v.out);
  });

  test("policies: flags and a rules file; profiles by name", async () => {
    const flags = await json(["policy", "create", "--project", slug, "--name", "web", "--common-names", "*.example.com",
      "--dns-names", "*.example.com,example.com", "--ip-addresses", "127.0.0.1", "--key-usages", "digital_signature,key_encipherment",
      "--extended-key-usages", "server_auth", "--key-algorithms", "ECDSA-P256", "--key-algorithms", "RSA-2048", "--max-validity", "90d"]);
    assert.deepEqual(flags.sans, [{ type: "dns_name", allowed: ["*.example.com", "example.com"] }, { type: "ip_address", allowed: ["127.0.0.1"] }]);
    assert.deepEqual(flags.algorithms.keyAlgorithm, ["ECDSA-P256", "RSA-2048"]);
    const rules = files.write("rules.yaml", [
      "subject:", "  - type: common_name", "    allowed: ['*.internal.example']", "    denied: ['db.internal.example']",
      "sans:", "  - type: dns_name", "    required: ['*.internal.example']", "keyUsages: { allowed: [digital_signature] }", "validity: { max: 6m }", "",
    ].join("\n"));
    const fromFile = await json(["policy", "create", "--project", slug, "--name", "internal", "--rules", rules, "--extended-key-usages", "client_auth"]);
    assert.deepEqual(fromFile.subject, [{ type: "common_name", allowed: ["*.internal.example"], denied: ["db.internal.example"] }]);
    assert.deepEqual(fromFile.extendedKeyUsages, { allowed: ["client_auth"] });
    assert.equal(fromFile.validity.max, "6m");
    const list = await ok(["policy", "list", "--project", slug]);
    assert.match(list, /^ID\s+NAME\s+MAX VALIDITY\s+SUBJECT\s+SANS$/m);
    assert.match(list, /internal\s+6m\s+common_name: \*\.internal\.example denied db\.internal\.example/);

    const profile = await ok(["profile", "create", "--project", slug, "--slug", "web", "--policy", "web", "--ca", "issuing-ca", "--ttl-days", "30",
      "--key-algorithm", "EC_prime256v1", "--key-usages", "digital_signature", "--extended-key-usages", "server_auth"]);
    assert.match(profile, /^issuer:\s+CA issuing-ca$/m);
    assert.match(profile, /^policy:\s+web$/m);
    const profiles = await json(["profile", "list", "--project", slug]);
    assert.equal(profiles.certificateProfiles.length, 1);
    assert.equal(profiles.certificateProfiles[0].defaults.ttlDays, 30);
    assert.match(await ok(["profile", "list", "--project", slug]), /web\s+issuing-ca\s+web\s+api\s+30d/);
  });

  test("cert issue writes certificate, key (0600) and chain that openssl verifies", async () => {
    const out = await ok(["cert", "issue", "--project", slug, "--profile", "web", "--common-name", "api.example.com", "--dns", "api.example.com",
      "--ip", "127.0.0.1", "--ttl", "7d", "--omit-root",
      "--cert-file", files.path("out/cert.pem"), "--key-file", files.path("out/key.pem"), "--chain-file", files.path("out/chain.pem")]);
    assert.match(out, /^certificate file:\s+.*cert\.pem \(0644\)$/m);
    assert.doesNotMatch(out, /BEGIN/, "nothing secret printed when files are written");
    assert.equal(statSync(files.path("out/key.pem")).mode & 0o777, 0o600);
    assert.equal(statSync(files.path("out/cert.pem")).mode & 0o777, 0o644);
    const v = openssl("verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", files.path("root.pem"), "-untrusted", files.path("out/chain.pem"), files.path("out/cert.pem"));
    assert.equal(v.status, 0, v.out);
    assert.equal(opensslOk("pkey", "-in", files.path("out/key.pem"), "-pubout"), opensslOk("x509", "-in", files.path("out/cert.pem"), "-pubkey", "-noout"));
    assert.match(opensslOk("x509", "-in", files.path("out/cert.pem"), "-noout", "-ext", "subjectAltName"), /DNS:api\.example\.com, IP Address:127\.0\.0\.1/);
  });

  test("cert issue signs a CSR and prints the PEMs; get, list, revoke; JSON parses", async () => {
    opensslOk("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", files.path("csr.key"),
      "-subj", "/CN=csr.example.com", "-addext", "subjectAltName=DNS:csr.example.com", "-out", files.path("req.csr"));
    const printed = await ok(["cert", "issue", "--project", slug, "--profile", "web", "--csr", files.path("req.csr"), "--ttl", "1d"]);
    assert.equal((printed.match(/BEGIN CERTIFICATE/g) ?? []).length, 3, "leaf, intermediate, root");
    assert.doesNotMatch(printed, /PRIVATE KEY/);
    const id = /^certificate id:\s+(\S+)$/m.exec(printed)![1]!;

    const issued = await json(["cert", "issue", "--project", slug, "--profile", "web", "--common-name", "json.example.com", "--dns", "json.example.com"]);
    assert.match(issued.certificate.privateKey, /BEGIN PRIVATE KEY/);
    assert.equal(issued.status, "issued");

    const record = await json(["cert", "get", id]);
    assert.equal(record.commonName, "csr.example.com");
    assert.equal(record.status, "active");
    assert.match(await ok(["cert", "get", id]), /^status:\s+active$/m);
    assert.match(await ok(["cert", "get", id, "--pem"]), /BEGIN CERTIFICATE/);

    const revoked = await json(["cert", "revoke", id, "--reason", "key-compromise"]);
    assert.match(revoked.revokedAt, /^\d{4}-/);
    assert.equal((await json(["cert", "get", id])).status, "revoked");
    const again = await kms(["cert", "revoke", id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already revoked \(HTTP 400/);

    const onlyRevoked = await json(["cert", "list", "--project", slug, "--status", "revoked"]);
    assert.deepEqual(onlyRevoked.certificates.map((c: { id: string }) => c.id), [id]);
    const all = await json(["cert", "list", "--project", projectId]);
    assert.equal(all.totalCount, 3);
    // --expiring-before narrows the list (the profile's default lifetime is longer than 8 days), and
    // totalCount counts what it matches.
    const soon = await json(["cert", "list", "--project", projectId, "--expiring-before", "8d"]);
    assert.equal(soon.totalCount, soon.certificates.length);
    assert.ok(soon.totalCount < all.totalCount);
    const table = await ok(["cert", "list", "--project", slug, "--common-name", "example.com"]);
    assert.match(table, /^ID\s+COMMON NAME\s+STATUS\s+NOT AFTER\s+SERIAL$/m);
    assert.match(table, /csr\.example\.com\s+revoked/);
    // The footer says what the count is: what the filters match, or the whole project.
    assert.match(await ok(["cert", "list", "--project", slug, "--common-name", "csr.example"]), /^1 shown, 1 matches$/m);
    assert.match(await ok(["cert", "list", "--project", slug]), /^3 shown, 3 in the project$/m);

    // get and revoke take --project like every other command; the certificate must be in it.
    assert.equal((await json(["cert", "get", id, "--project", slug])).id, id);
    const elsewhere = await api(s.address, "POST", "/api/v1/projects", { token: s.adminToken, body: { projectName: "cli-pki-other", slug: "cli-pki-other", type: "cert-manager" } });
    assert.equal(elsewhere.status, 200, elsewhere.text);
    for (const args of [["cert", "get", id], ["cert", "revoke", issued.certificate.certificateId]]) {
      const wrong = await kms([...args, "--project", "cli-pki-other"]);
      assert.equal(wrong.code, 2, wrong.stderr);
      assert.match(wrong.stderr, /is not in the project given/);
    }
    assert.equal((await json(["cert", "get", issued.certificate.certificateId])).status, "active", "nothing was revoked");
  });

  test("--not-after and --expiring-before: years are calendar years, as in policies", () => {
    const now = Date.parse("2026-11-23T08:00:00.000Z");
    assert.equal(dateOrDuration("--not-after", "10y", now), "2036-11-23T08:00:00.000Z");
    assert.equal(dateOrDuration("--not-after", "1y", Date.parse("2028-02-29T00:00:00.000Z")), "2029-02-28T00:00:00.000Z");
    assert.equal(dateOrDuration("--not-after", "90d", now), "2027-02-21T08:00:00.000Z");
    assert.equal(dateOrDuration("--not-after", "2030-01-01", now), "2030-01-01T00:00:00.000Z");
    assert.throws(() => dateOrDuration("--not-after", "10q", now), /neither an ISO date nor a duration/);
  });

  test("output piped into a reader that stops early ends quietly, without a stack trace", async () => {
    const r = await new Promise<Run>((resolve) => {
      execFile("sh", ["-c", `"${process.execPath}" "${KMS_BIN}" pki cert issue --project ${slug} --profile web --common-name pipe.example.com --dns pipe.example.com | true`], {
        env: { ...process.env, KMS_ADDRESS: s.address, KMS_TOKEN: s.adminToken }, encoding: "utf8",
      }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
    });
    assert.equal(r.stderr, "");
  });

  test("errors: the server's message and exit 1; usage errors exit 2 and send nothing", async () => {
    const refused = await kms(["cert", "issue", "--project", slug, "--profile", "web", "--common-name", "evil.example.org", "--dns", "evil.example.org"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^kms pki cert issue: .*evil\.example\.org.*is not allowed.*\(HTTP 400/m);
    const unknown = await kms(["ca", "get", "no-such-ca", "--project", slug]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no certificate authority with id or name "no-such-ca"/);

    for (const [args, message] of [
      [["cert", "list", "--project", slug, "--bogus"], /unknown option '--bogus'/],
      [["cert", "issue", "--profile", "web", "--key-algorithm", "DSA"], /Allowed choices are RSA_2048/],
      [["cert", "list"], /--project is required/],
      [["cert", "revoke", "00000000-0000-0000-0000-000000000000", "--reason", "because"], /--reason: "because" is not one of/],
      [["cert", "issue", "--project", slug, "--profile", "web", "--cert-file", files.path("x.pem")], /--key-file is required/],
      [["profile", "create", "--project", slug, "--slug", "x", "--policy", "web"], /exactly one of --ca <ca> and --self-signed/],
      [["cert", "list", "--project", slug, "--limit", "ten"], /"ten" is not a whole number/],
    ] as const) {
      const r = await kms([...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const noToken = await kms(["ca", "list", "--project", slug], { KMS_TOKEN: undefined });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /no access token: set KMS_TOKEN/);
    const badToken = await kms(["ca", "list", "--project", slug], { KMS_TOKEN: "kmsat.nope.nope" });
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /Invalid access token.*\(HTTP 401/);
    assert.ok(!join(badToken.stderr).includes("kmsat.nope.nope"), "the token is never echoed");
  });
});
