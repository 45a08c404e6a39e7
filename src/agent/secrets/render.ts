import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { FuncMap } from "../../template/funcs.js";
import { sprigFuncs } from "../../template/sprig.js";
import { Template } from "../../template/template.js";
import type { TemplateEntry } from "./config.js";
import { secretFunctions } from "./functions.js";
import { dynamicSecretFunctions } from "./dynamic.js";
import type { RenderContext } from "./functions.js";

/**
 * Turns one `templates[]` entry into text: Go's text/template with Sprig (minus env and expandenv, as
 * upstream) and the secret functions. Template names are upstream's, so error messages read the same:
 * the file's base name for source-path (Go's ParseFiles), `literalTemplate` for template-content and
 * `base64Template` for base64-template-content. A source file is read at every render (upstream does
 * too): editing it takes effect at the next render without a reload.
 */

export const templateName = (entry: Pick<TemplateEntry, "source-path" | "template-content" | "base64-template-content">): string =>
  entry["source-path"] !== undefined ? basename(entry["source-path"]) : entry["template-content"] !== undefined ? "literalTemplate" : "base64Template";

/** Strict base64 (the Go agent uses StdEncoding): anything else is refused rather than half-decoded. */
export const decodeBase64Template = (text: string): string => {
  const t = text.replace(/\s+/g, "");
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t)) throw new Error("is not valid base64");
  return Buffer.from(t, "base64").toString("utf8");
};

export const readTemplateText = async (entry: TemplateEntry): Promise<string> => {
  if (entry["source-path"] !== undefined) return readFile(entry["source-path"], "utf8");
  if (entry["template-content"] !== undefined) return entry["template-content"];
  return decodeBase64Template(entry["base64-template-content"] ?? "");
};

export const readTemplateTextSync = (entry: TemplateEntry): string => {
  if (entry["source-path"] !== undefined) return readFileSync(entry["source-path"], "utf8");
  if (entry["template-content"] !== undefined) return entry["template-content"];
  return decodeBase64Template(entry["base64-template-content"] ?? "");
};

export interface RendererOptions {
  /** Sprig's clock. */
  now?: () => number;
  /** More functions bound to the render context (dynamic secrets). */
  extraFuncs?: (current: () => RenderContext) => FuncMap;
}

/** The functions a template may call; also used to check templates when the configuration is loaded. */
export const agentFuncs = (current: () => RenderContext, opts: RendererOptions = {}): FuncMap => ({
  ...sprigFuncs({ now: opts.now }),
  ...secretFunctions(current),
  ...dynamicSecretFunctions(current),
  ...opts.extraFuncs?.(current),
});

const noContext = (): RenderContext => {
  throw new Error("no render in progress");
};

/** Parses a template as the agent would; throws ParseError with Go's message. */
export const parseAgentTemplate = (name: string, text: string, opts: RendererOptions = {}): Template =>
  new Template(name).funcs(agentFuncs(noContext, opts)).parse(text);

/**
 * One template's renderer. The parsed tree is kept while the text stays the same; functions reach the
 * current render through `ctx`, which is safe because one template's renders never overlap.
 */
export const createRenderer = (entry: TemplateEntry, opts: RendererOptions = {}) => {
  const name = templateName(entry);
  let ctx: RenderContext | undefined;
  const current = (): RenderContext => ctx ?? noContext();
  let parsed: { text: string; template: Template } | undefined;

  /** Renders with `context`, which keeps what was read even when the render fails part-way. */
  const render = async (context: RenderContext): Promise<string> => {
    const text = await readTemplateText(entry);
    if (parsed?.text !== text) parsed = { text, template: new Template(name).funcs(agentFuncs(current, opts)).parse(text) };
    ctx = context;
    try {
      // Go's agent executes with nil data: dot is empty.
      return await parsed.template.execute(undefined);
    } finally {
      ctx = undefined;
    }
  };
  return { name, render };
};
export type Renderer = ReturnType<typeof createRenderer>;
