import { quote } from "../../template/strconv.js";
import { REDACTED } from "../log.js";

/**
 * Scrubs secret values out of a render's error message. Go's messages print the values they stumble
 * over (`range can't iterate over {DB_PASS <project> p@ss …}`, `strconv.Atoi: parsing "p@ss"`), and
 * that message goes to the log at every retry; each value the render fetched (secrets, lease
 * credentials) is replaced, also in the escaped forms quoting gives it.
 */

/**
 * Below this length a value is replaced only where it stands alone: a one-digit value replaced inside
 * every number would erase the message without hiding anything.
 */
const SHORT = 4;

const escapeRegExp = (s: string) => s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");

export const redactValues = (message: string, values: Iterable<string>): string => {
  const forms = new Set<string>();
  for (const v of values) {
    if (!v) continue;
    forms.add(v);
    forms.add(JSON.stringify(v).slice(1, -1));
    forms.add(quote(v).slice(1, -1));
  }
  if (forms.size === 0) return message;
  // The location (`template: NAME:LINE:COL:`) is the template's, never a value, and says where to look.
  const location = /^template: .*?:\d+(?::\d+)?: /.exec(message)?.[0] ?? "";
  // Longest first, so a value that contains another goes whole; NUL marks what is already replaced.
  let rest = message.slice(location.length);
  for (const f of [...forms].sort((a, b) => b.length - a.length)) {
    rest = f.length >= SHORT ? rest.split(f).join("\0") : rest.replace(new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(f)}(?![\\p{L}\\p{N}_])`, "gu"), "\0");
  }
  return location + rest.replaceAll("\0", REDACTED);
};

/** The error to log or hand on: a new one with the values scrubbed, and no `cause` that still holds them. */
export const redactError = (err: Error, values: ReadonlySet<string>): Error => {
  if (values.size === 0) return err;
  const e = new Error(redactValues(err.message, values));
  e.name = err.name;
  return e;
};
