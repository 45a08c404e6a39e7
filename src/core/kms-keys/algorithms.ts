/** The key usages and algorithms of api.md 6.1 and the signing algorithms of 6.3, as Infisical spells them. */
export const KEY_USAGES = ["encrypt-decrypt", "sign-verify"] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const SYMMETRIC_ALGORITHMS = ["aes-256-gcm", "aes-128-gcm"] as const;
export const ASYMMETRIC_ALGORITHMS = ["RSA_4096", "ECC_NIST_P256"] as const;
export type SymmetricAlgorithm = (typeof SYMMETRIC_ALGORITHMS)[number];
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];
export const KEY_ALGORITHMS = [...SYMMETRIC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** Which algorithms each usage allows; the first is the default (sign-verify has none: it must be named). */
export const ALGORITHMS_OF: Record<KeyUsage, readonly KeyAlgorithm[]> = {
  "encrypt-decrypt": SYMMETRIC_ALGORITHMS,
  "sign-verify": ASYMMETRIC_ALGORITHMS,
};

export type HashName = "sha256" | "sha384" | "sha512";
export const HASH_LENGTH: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

export interface SigningScheme { padding: "pss" | "pkcs1" | "ecdsa"; hash: HashName }

/** Every signing algorithm, with its padding and hash. */
export const SIGNING_SCHEMES = {
  RSASSA_PSS_SHA_512: { padding: "pss", hash: "sha512" },
  RSASSA_PSS_SHA_384: { padding: "pss", hash: "sha384" },
  RSASSA_PSS_SHA_256: { padding: "pss", hash: "sha256" },
  RSASSA_PKCS1_V1_5_SHA_512: { padding: "pkcs1", hash: "sha512" },
  RSASSA_PKCS1_V1_5_SHA_384: { padding: "pkcs1", hash: "sha384" },
  RSASSA_PKCS1_V1_5_SHA_256: { padding: "pkcs1", hash: "sha256" },
  ECDSA_SHA_512: { padding: "ecdsa", hash: "sha512" },
  ECDSA_SHA_384: { padding: "ecdsa", hash: "sha384" },
  ECDSA_SHA_256: { padding: "ecdsa", hash: "sha256" },
} as const satisfies Record<string, SigningScheme>;
export type SigningAlgorithm = keyof typeof SIGNING_SCHEMES;
export const SIGNING_ALGORITHMS = Object.keys(SIGNING_SCHEMES) as SigningAlgorithm[];

/** api.md 6.3, in Infisical's order. */
export const SIGNING_ALGORITHMS_OF: Record<AsymmetricAlgorithm, readonly SigningAlgorithm[]> = {
  RSA_4096: ["RSASSA_PSS_SHA_512", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_512", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_256"],
  ECC_NIST_P256: ["ECDSA_SHA_512", "ECDSA_SHA_384", "ECDSA_SHA_256"],
};

export const isAsymmetric = (a: string): a is AsymmetricAlgorithm => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a);

/** Plaintext and data to sign are at most this many bytes once base64-decoded (api.md 6.2). */
export const MAX_PAYLOAD_BYTES = 4096;
