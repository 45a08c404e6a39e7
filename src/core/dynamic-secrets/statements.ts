/**
 * The `{{name}}` placeholders of creation, renewal and revocation statements and of username templates.
 * Infisical compiles these with Handlebars; the statements only ever use plain variables, so we accept
 * `{{name}}` and `{{{name}}}` (never HTML-escaped: a statement is not HTML) plus the few helpers of
 * Infisical's username templates, and refuse anything else when the dynamic secret is saved, not when a
 * lease is first asked for.
 */
const EXPRESSION = /\{\{(\{?)\s*([^{}]*?)\s*\}?\}\}/g;

export class TemplateError extends Error {}

type Vars = Record<string, string | number | undefined>;
type Helper = (args: string[]) => string;

const tokenize = (expr: string) => expr.split(/\s+/).filter(Boolean);

const evaluate = (expr: string, vars: Vars, helpers: Record<string, Helper>, allowed: readonly string[]): string => {
  const [head, ...rest] = tokenize(expr);
  if (!head) throw new TemplateError("empty placeholder '{{}}'");
  const value = (tok: string): string => {
    if (/^\d+$/.test(tok)) return tok;
    const quoted = /^"(.*)"$|^'(.*)'$/.exec(tok);
    if (quoted) return quoted[1] ?? quoted[2] ?? "";
    if (!allowed.includes(tok)) throw new TemplateError(`unknown placeholder '{{${tok}}}' (allowed: ${allowed.map((a) => `{{${a}}}`).join(", ")})`);
    return String(vars[tok] ?? "");
  };
  if (rest.length === 0) return helpers[head] ? helpers[head]([]) : value(head);
  const helper = helpers[head];
  if (!helper) throw new TemplateError(`unsupported expression '{{${expr}}}': only plain placeholders${Object.keys(helpers).length ? ` and the helpers ${Object.keys(helpers).join(", ")}` : ""} are allowed`);
  return helper(rest.map(value));
};

/** Substitutes every placeholder; throws TemplateError naming the first unknown one. */
export const renderTemplate = (template: string, vars: Vars, allowed: readonly string[], helpers: Record<string, Helper> = {}): string =>
  template.replace(EXPRESSION, (_m, _triple: string, expr: string) => evaluate(expr, vars, helpers, allowed));

/**
 * Splits a statement block on `;` BEFORE substituting, then renders each statement. Infisical renders first
 * and splits afterwards, so a generated password containing `;` breaks its statements; this order cannot.
 */
export const renderStatements = (template: string, vars: Vars, allowed: readonly string[]): string[] =>
  template.split(";").map((s) => s.trim()).filter((s) => s.length > 0).map((s) => renderTemplate(s, vars, allowed));

/** Checks a template against its allowed placeholders without values; returns the problem or undefined. */
export const templateProblem = (template: string, allowed: readonly string[], helpers: Record<string, Helper> = {}): string | undefined => {
  try {
    renderTemplate(template, {}, allowed, helpers);
    return undefined;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
};
