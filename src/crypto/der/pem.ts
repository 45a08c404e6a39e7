/** PEM armour (RFC 7468). We write labels ourselves: @peculiar/x509 labels CRLs wrongly (DESIGN.md). */

export const toPem = (label: string, der: Uint8Array): string => {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + "\n";
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
};

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order (a chain file holds several). */
export const fromPemAll = (text: string): PemBlock[] => {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2].replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new RangeError(`PEM block ${m[1]}: invalid base64`);
    out.push({ label: m[1], der: Buffer.from(body, "base64") });
  }
  return out;
};

/** The first block with one of `labels`; throws naming the labels when there is none. */
export const fromPem = (text: string, labels: readonly string[]): PemBlock => {
  const block = fromPemAll(text).find((b) => labels.includes(b.label));
  if (!block) throw new RangeError(`no PEM block labelled ${labels.join(" or ")}`);
  return block;
};

/** The `CERTIFICATE` blocks of a PEM text, verbatim and in order (text around them dropped). */
export const certificateBlocks = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/** PEM blocks as one text, a newline between and after them; "" for none. */
export const joinPemBlocks = (blocks: readonly string[]): string => (blocks.length ? blocks.map((b) => b.trim()).join("\n") + "\n" : "");
