/**
 * @peculiar/x509 set up once: reflect-metadata must load before it, and it must use Node's WebCrypto.
 * The engine itself builds DER directly (src/core/pki); this module serves tests (an independent parser to
 * cross-check our encodings) and bench/issue-engine.ts (the baseline builder).
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
