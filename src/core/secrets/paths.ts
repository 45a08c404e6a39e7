import { BadRequestError } from "../errors.js";

/** Folder names as Infisical allows them: letters, digits, dashes and underscores. */
export const FOLDER_NAME = /^[A-Za-z0-9_-]+$/;

export const ROOT_PATH = "/";

/**
 * Turns a client's folder path into the canonical form stored in `folders.path`: a leading `/`, no
 * trailing `/`, `/` for the root. A path is never resolved: `..`, `.` and empty segments (`//`) are
 * refused instead, so no spelling of a path can reach a folder other than the one it names literally.
 * `field` names the request field in the error (`secretPath`, `path`, `import.path`, ...).
 */
export const normalizePath = (raw: string | undefined | null, field: string): string => {
  const input = (raw ?? "").trim();
  if (input === "" || input === "/") return ROOT_PATH;
  const bad = (why: string): never => {
    throw new BadRequestError(`${field}: ${JSON.stringify(raw)} is not a valid folder path: ${why}`);
  };
  if (input.includes("//")) bad("empty path segment ('//')");
  if (input.includes("\\")) bad("backslashes are not path separators");
  // Clients send `a/b` as well as `/a/b`, and the CLI appends a trailing slash; both are harmless.
  let p = input.startsWith("/") ? input : `/${input}`;
  if (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  for (const segment of p.slice(1).split("/")) {
    if (segment === "." || segment === "..") bad(`'${segment}' segments are not allowed`);
    if (!FOLDER_NAME.test(segment)) bad(`segment '${segment}' may only contain letters, digits, '-' and '_'`);
  }
  return p;
};

/** The segments of a canonical path: `/a/b` → `["a", "b"]`, `/` → `[]`. */
export const pathSegments = (path: string): string[] => (path === ROOT_PATH ? [] : path.slice(1).split("/"));

export const joinPath = (parent: string, name: string): string => (parent === ROOT_PATH ? `/${name}` : `${parent}/${name}`);

export const parentPath = (path: string): string => {
  const i = path.lastIndexOf("/");
  return i <= 0 ? ROOT_PATH : path.slice(0, i);
};

/** True when `path` is `ancestor` itself or lies below it. */
export const isWithin = (path: string, ancestor: string): boolean =>
  ancestor === ROOT_PATH || path === ancestor || path.startsWith(`${ancestor}/`);

/** `path` seen from `base` (both canonical, `path` within `base`): `/a/b/c` from `/a` → `/b/c`. */
export const relativePath = (path: string, base: string): string =>
  base === ROOT_PATH ? path : path === base ? ROOT_PATH : path.slice(base.length);
