import { ROOT_PATH } from "./paths.js";

/**
 * Secret reference expansion (api.md 4.4), independent of storage: the caller supplies how a referenced
 * secret is found and who may read it.
 *
 *   ${KEY}            KEY in the folder of the secret holding the reference
 *   ${env.KEY}        KEY at the root of environment `env` (same project)
 *   ${env.a.b.KEY}    KEY in folder /a/b of environment `env`
 */
export const REFERENCE = /\$\{([a-zA-Z0-9\-_.]+)\}/g;
export const MAX_REFERENCE_DEPTH = 10;

/**
 * What one request may spend on expansion, shared by every value it expands, in order. Without a bound, a
 * few values that each refer to the next one several times (`L0 = ${L1}${L1}…`, `L1 = ${L2}${L2}…`) grow
 * exponentially with the depth: ten references per level over ten levels is 10^9 substitutions, which held
 * the whole server for minutes and then exhausted its memory. A value whose expansion would pass the
 * budget is answered unexpanded (its references verbatim), like any other reference that cannot expand.
 */
export const MAX_REFERENCES_PER_REQUEST = 100_000;
export const MAX_EXPANDED_CHARS_PER_REQUEST = 16 * 1024 * 1024;
export interface ExpansionBudget { references: number; chars: number }
export const expansionBudget = (): ExpansionBudget => ({ references: MAX_REFERENCES_PER_REQUEST, chars: MAX_EXPANDED_CHARS_PER_REQUEST });
const OVER_BUDGET = Symbol("over expansion budget");

export interface SecretLocation { environment: string; secretPath: string }
export interface SecretRef extends SecretLocation { key: string }

/** Where `${inner}` points when written in a secret at `from`; undefined for malformed forms like `${a..b}`. */
export const parseReference = (inner: string, from: SecretLocation): SecretRef | undefined => {
  const parts = inner.split(".");
  if (parts.some((p) => p === "")) return undefined;
  if (parts.length === 1) return { environment: from.environment, secretPath: from.secretPath, key: parts[0]! };
  const folders = parts.slice(1, -1);
  return { environment: parts[0]!, secretPath: folders.length ? `/${folders.join("/")}` : ROOT_PATH, key: parts[parts.length - 1]! };
};

export const hasReference = (value: string): boolean => value.includes("${") && new RegExp(REFERENCE.source).test(value);

export interface ExpandDeps {
  /** The raw (unexpanded) value of a referenced secret, or undefined when it does not exist. */
  resolve(ref: SecretRef): Promise<string | undefined> | string | undefined;
  /** Throws when the caller may not read `ref`; `referencedBy` is the secret whose value holds the reference. */
  authorize?(ref: SecretRef, referencedBy: SecretRef): Promise<void> | void;
  /** Shared by the values of one request; a fresh one (for this value alone) when absent. */
  budget?: ExpansionBudget;
}

/**
 * Infisical's multiline quirk: a secret with `skipMultilineEncoding` whose expanded value spans lines is
 * sent as one double-quoted line with `\n` escapes.
 */
const formatMultiline = (v: string) => (v.includes("\n") ? `"${v.replaceAll("\n", "\\n")}"` : v);

const refId = (r: SecretRef) => `${r.environment}\0${r.secretPath}\0${r.key}`;

/**
 * Expands every reference in `secret.value`. Nested references expand up to MAX_REFERENCE_DEPTH levels;
 * a reference back into the chain being expanded (a cycle), or one past the depth limit, is replaced by
 * the raw value and not followed further, so cycles end silently. A missing or empty target leaves the
 * reference verbatim.
 */
export const expandReferences = async (
  secret: SecretRef & { value: string; skipMultilineEncoding?: boolean | null },
  deps: ExpandDeps,
): Promise<string> => {
  if (!hasReference(secret.value)) return secret.value;
  const root: SecretRef = { environment: secret.environment, secretPath: secret.secretPath, key: secret.key };
  const budget = deps.budget ?? expansionBudget();
  // Characters are charged where they enter the output (literal text, verbatim references, raw values at a
  // cycle or the depth limit), so each output character is counted once, and so is the work behind it.
  let chars = budget.chars;
  const emit = (text: string) => {
    chars -= text.length;
    if (chars < 0) throw OVER_BUDGET;
    return text;
  };

  const expand = async (value: string, at: SecretRef, chain: ReadonlySet<string>, depth: number): Promise<string> => {
    if (!value.includes("${")) return emit(value);
    let out = "";
    let last = 0;
    for (const m of value.matchAll(new RegExp(REFERENCE.source, "g"))) {
      out += emit(value.slice(last, m.index));
      last = m.index + m[0].length;
      const ref = parseReference(m[1]!, at);
      if (!ref) {
        out += emit(m[0]);
        continue;
      }
      if (--budget.references < 0) throw OVER_BUDGET;
      await deps.authorize?.(ref, at);
      const target = await deps.resolve(ref);
      if (!target) {
        out += emit(m[0]);
        continue;
      }
      const id = refId(ref);
      out += chain.has(id) || depth >= MAX_REFERENCE_DEPTH ? emit(target) : await expand(target, ref, new Set([...chain, id]), depth + 1);
    }
    return out + emit(value.slice(last));
  };

  let expanded: string;
  try {
    expanded = await expand(secret.value, root, new Set([refId(root)]), 1);
  } catch (e) {
    if (e !== OVER_BUDGET) throw e;
    // The work done is spent all the same, so the values after this one cannot each redo it.
    budget.references = Math.max(0, budget.references);
    budget.chars = Math.max(0, chars);
    return secret.value;
  }
  budget.chars = chars;
  return secret.skipMultilineEncoding ? formatMultiline(expanded) : expanded;
};
