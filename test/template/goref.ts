// Builds and runs test/template/goref (Go's own text/template) for the differential test. The
// binary is cached under os.tmpdir() by the hash of its sources, the Go version and whether Sprig
// (Debian's golang-github-masterminds-sprig-dev) was found.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const gorefDir = join(here, "goref");
const gocode = "/usr/share/gocode/src";

export interface GoCase {
  name: string;
  template: string;
  data?: unknown;
  options?: string[];
  delims?: [string, string];
  sprig?: boolean;
  secrets?: unknown[];
  now?: string;
}

export interface GoResult {
  output: string;
  error: string | null;
}

export type Goref =
  | { ok: true; bin: string; goVersion: string; sprig: boolean }
  | { ok: false; reason: string };

/** "go1.19.8" → [1, 19] */
export const goMinor = (version: string): [number, number] => {
  const m = /go(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};

export const buildGoref = (): Goref => {
  const v = spawnSync("go", ["version"], { encoding: "utf8" });
  if (v.error || v.status !== 0) return { ok: false, reason: "the go toolchain is not installed (apt-get install golang-go)" };
  const goVersion = /go\d+\.\d+(\.\d+)?/.exec(v.stdout)?.[0] ?? v.stdout.trim();
  const sprig = existsSync(join(gocode, "github.com/Masterminds/sprig")) && existsSync(join(gocode, "gopkg.in/yaml.v2"));
  const hash = createHash("sha256");
  for (const f of ["main.go", "sprig.go"]) hash.update(readFileSync(join(gorefDir, f)));
  hash.update(goVersion + String(sprig));
  const dir = join(tmpdir(), `kms-goref-${hash.digest("hex").slice(0, 16)}`);
  const bin = join(dir, "goref");
  if (existsSync(bin)) return { ok: true, bin, goVersion, sprig };
  // GOPATH mode against Debian's packaged sources: no module proxy, no network.
  const gopath = join(dir, "gopath");
  const src = join(gopath, "src", "goref");
  rmSync(gopath, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  cpSync(gorefDir, src, { recursive: true });
  if (sprig) {
    for (const m of ["sprig", "semver"]) {
      const parent = join(gopath, "src/github.com/Masterminds", m);
      mkdirSync(parent, { recursive: true });
      symlinkSync(join(gocode, "github.com/Masterminds", m), join(parent, "v3"));
    }
  }
  const tmpBin = `${bin}.${process.pid}`;
  const b = spawnSync("go", ["build", ...(sprig ? ["-tags", "sprig"] : []), "-o", tmpBin, "."], {
    cwd: src,
    encoding: "utf8",
    env: { ...process.env, GO111MODULE: "off", GOPATH: `${gopath}:/usr/share/gocode`, GOCACHE: join(dir, "gocache"), GOFLAGS: "" },
  });
  if (b.status !== 0) return { ok: false, reason: `go build of goref failed: ${b.stderr || b.error}` };
  renameSync(tmpBin, bin);
  return { ok: true, bin, goVersion, sprig };
};

export const runGoref = (bin: string, cases: GoCase[]): GoResult[] => {
  const r = spawnSync(bin, [], {
    input: JSON.stringify(cases),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, TZ: "UTC" },
  });
  if (r.status !== 0) throw new Error(`goref failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as GoResult[];
};
