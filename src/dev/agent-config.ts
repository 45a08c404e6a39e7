import { join, relative } from "node:path";
import { DEMO } from "./demo.js";

/**
 * The agent configuration `kms dev` writes: the seed's full example, key for key, with this server's
 * address, the demo profile, files under the dev directory and a short lifetime (ttl 2m, renewal 1m before
 * expiry) so a renewal shows within minutes. Paths are relative to the directory `kms dev` runs in.
 */
export const demoAgentConfig = (o: { address: string; dir: string; clientIdFile: string; clientSecretFile: string }): string => {
  const rel = (p: string) => relative(process.cwd(), p) || ".";
  const certs = join(o.dir, "certs");
  return `version: v1

# The KMS server \`kms dev\` started (this file is an ordinary \`kms cert-manager agent\` config).
kms:
  address: "${o.address}"
  retry-strategy:
    max-retries: 3
    max-delay: "5s"
    base-delay: "200ms"

auth:
  type: "universal-auth"
  config:
    client-id: "${rel(o.clientIdFile)}"           # path to the file holding the client id
    client-secret: "${rel(o.clientSecretFile)}"   # path to the file holding the client secret
    remove-client-secret-on-read: false

certificates:
  - profile-name: "${DEMO.profileSlug}"
    project-slug: "${DEMO.projectSlug}"
    attributes:
      common-name: "${DEMO.commonName}"
      alt-names: ["${DEMO.commonName}", "localhost"]
      ttl: "2m"                      # short on purpose: watch a renewal happen
      key-algorithm: "EC_prime256v1"
      signature-algorithm: "ECDSA-SHA256"
      key-usages:
        - "digital_signature"
        - "key_encipherment"
      extended-key-usages:
        - "server_auth"

    lifecycle:
      renew-before-expiry: "1m"
      status-check-interval: "10s"

    file-output:
      private-key:
        path: "${rel(join(certs, "web.key"))}"
        permission: "0600"
      certificate:
        path: "${rel(join(certs, "web.crt"))}"
        permission: "0644"
      chain:
        path: "${rel(join(certs, "web-chain.crt"))}"
        permission: "0644"
        omit-root: true

    post-hooks:
      on-issuance:
        command: |
          echo "Certificate issued for \${CERT_COMMON_NAME}: serial \${CERT_SERIAL_NUMBER}, valid until \${CERT_NOT_AFTER}"
        timeout: 30
      on-renewal:
        command: |
          echo "Certificate renewed for \${CERT_COMMON_NAME}: serial \${CERT_SERIAL_NUMBER}, valid until \${CERT_NOT_AFTER}"
        timeout: 30
      on-failure:
        command: |
          echo "Certificate operation failed for \${CERT_COMMON_NAME}: \${ERROR_MESSAGE}"
        timeout: 30
`;
};
