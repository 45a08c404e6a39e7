/**
 * Write-side rules for secret names and values (api.md 4.1).
 */

/** Infisical refuses names with spaces; we refuse any whitespace, which no shell could export either. */
export const SECRET_NAME_MESSAGE = "secret names must be non-empty and contain no spaces";
export const isValidSecretName = (name: string): boolean => name.length > 0 && !/\s/.test(name);

/**
 * Leading and trailing whitespace is trimmed, except that a value whose last character is a newline keeps
 * exactly one: `"  a\n"` → `"a\n"`, `"a\n  "` → `"a"` (Infisical's rule; PEM blocks keep their final newline).
 */
export const normalizeSecretValue = (value: string): string => {
  const trimmed = value.trim();
  return value.endsWith("\n") ? `${trimmed}\n` : trimmed;
};

export const HIDDEN_SECRET_VALUE = "<hidden-by-infisical>";

export type SecretType = "shared" | "personal";
