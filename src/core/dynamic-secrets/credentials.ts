import { randomInt } from "node:crypto";
import { z } from "zod";
import { renderTemplate, TemplateError } from "./statements.js";

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";
const ALNUM = LOWER + UPPER + DIGITS;

export interface PasswordRequirements {
  length: number;
  required: { lowercase: number; uppercase: number; digits: number; symbols: number };
  allowedSymbols?: string;
}

/** Infisical's defaults for SQL passwords. */
export const DEFAULT_PASSWORD_REQUIREMENTS: PasswordRequirements = {
  length: 48, required: { lowercase: 1, uppercase: 1, digits: 1, symbols: 0 }, allowedSymbols: "-_.~!*",
};

// Statements embed the password literally ('{{password}}', >{{password}}), so characters that end or escape
// a literal, or split a Redis command into words, would turn a password into syntax.
const UNSAFE_SYMBOL = /['"\\`\s]/;

const count = z.number().int().min(0).max(250);
/**
 * Accepts Infisical's spelling (`required.lowercase`) and the SDK v5 spelling (`required.minLowercase`),
 * api.md 8 item 8; a missing count is 0. The result is always Infisical's spelling.
 */
export const PasswordRequirementsSchema = z.object({
  length: z.number().int().min(1).max(250),
  required: z.object({
    lowercase: count.optional(), uppercase: count.optional(), digits: count.optional(), symbols: count.optional(),
    minLowercase: count.optional(), minUppercase: count.optional(), minDigits: count.optional(), minSymbols: count.optional(),
  }).optional(),
  allowedSymbols: z.string().optional(),
}).transform((p): PasswordRequirements => {
  const r = p.required ?? {};
  return {
    length: p.length,
    required: {
      lowercase: r.lowercase ?? r.minLowercase ?? 0, uppercase: r.uppercase ?? r.minUppercase ?? 0,
      digits: r.digits ?? r.minDigits ?? 0, symbols: r.symbols ?? r.minSymbols ?? 0,
    },
    ...(p.allowedSymbols !== undefined && p.allowedSymbols !== "" ? { allowedSymbols: p.allowedSymbols } : {}),
  };
}).superRefine((p, ctx) => {
  const sum = p.required.lowercase + p.required.uppercase + p.required.digits + p.required.symbols;
  if (sum > p.length) ctx.addIssue({ code: "custom", path: ["required"], message: `the required characters (${sum}) exceed the length (${p.length})` });
  if (p.allowedSymbols && UNSAFE_SYMBOL.test(p.allowedSymbols))
    ctx.addIssue({ code: "custom", path: ["allowedSymbols"], message: "quotes, backslashes, backticks and whitespace cannot be used: statements embed the password literally" });
});

const pick = (chars: string) => chars[randomInt(chars.length)]!;

/** A password meeting the requirements, characters chosen with crypto.randomInt and shuffled (Fisher-Yates). */
export const generatePassword = (req: PasswordRequirements = DEFAULT_PASSWORD_REQUIREMENTS): string => {
  const symbols = req.allowedSymbols || DEFAULT_PASSWORD_REQUIREMENTS.allowedSymbols!;
  const classes: [string, number][] = [[LOWER, req.required.lowercase], [UPPER, req.required.uppercase], [DIGITS, req.required.digits], [symbols, req.required.symbols]];
  const parts: string[] = [];
  for (const [chars, n] of classes) for (let i = 0; i < n; i++) parts.push(pick(chars));
  // The rest comes from the classes that were asked for; Infisical crashes when none is, we fall back to letters and digits.
  const pool = classes.filter(([, n]) => n > 0).map(([c]) => c).join("") || ALNUM;
  while (parts.length < req.length) parts.push(pick(pool));
  for (let i = parts.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return parts.join("");
};

export const randomAlphanumeric = (length: number): string => Array.from({ length }, () => pick(ALNUM)).join("");

/** Variables of `usernameTemplate` (Infisical: randomUsername, unixTimestamp, identity.name, dynamicSecret.name/type). */
export const USERNAME_VARIABLES = ["randomUsername", "unixTimestamp", "identity.name", "identity.id", "dynamicSecret.name", "dynamicSecret.type"] as const;
const USERNAME_HELPERS = {
  random: ([n]: string[]) => randomAlphanumeric(Math.min(Math.max(Number(n) || 0, 0), 100)),
  truncate: ([s, n]: string[]) => (s ?? "").slice(0, Number(n) || undefined),
  uppercase: ([s]: string[]) => (s ?? "").toUpperCase(),
  lowercase: ([s]: string[]) => (s ?? "").toLowerCase(),
};
// Infisical's rule, so a username stays a plain identifier in every provider's statements.
const SAFE_USERNAME = /^[A-Za-z0-9_-]{1,128}$/;

export interface UsernameContext { unixTimestamp: number; identity: { id: string; name: string }; dynamicSecret: { name: string; type: string } }

/** 32 random alphanumerics, or the template rendered over them; throws TemplateError with the reason. */
export const generateUsername = (template: string | null | undefined, ctx: UsernameContext): string => {
  const randomUsername = randomAlphanumeric(32);
  if (!template) return randomUsername;
  const name = renderTemplate(template, {
    randomUsername, unixTimestamp: ctx.unixTimestamp, "identity.name": ctx.identity.name, "identity.id": ctx.identity.id,
    "dynamicSecret.name": ctx.dynamicSecret.name, "dynamicSecret.type": ctx.dynamicSecret.type,
  }, USERNAME_VARIABLES, USERNAME_HELPERS);
  if (!SAFE_USERNAME.test(name))
    throw new TemplateError(`usernameTemplate produced "${name.slice(0, 140)}": a username may only contain letters, digits, '_' and '-' (1 to 128 characters)`);
  return name;
};

export const usernameTemplateProblem = (template: string): string | undefined => {
  try {
    generateUsername(template, { unixTimestamp: 1_700_000_000, identity: { id: "00000000-0000-4000-8000-000000000000", name: "identity" }, dynamicSecret: { name: "name", type: "type" } });
    return undefined;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
};
