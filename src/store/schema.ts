/**
 * Row types of every table. Conventions shared by SQLite and PostgreSQL:
 * ids are UUID text, times are ISO-8601 text (they sort as text), booleans are 0/1 integers,
 * JSON is text, ciphertext is text in the envelope format of src/crypto/envelope.ts.
 */
export type Bool = 0 | 1;

export interface MetaTable { key: string; value: string }

export interface OrganizationTable { id: string; name: string; slug: string; created_at: string; updated_at: string }

export interface UserTable {
  id: string; email: string; password_hash: string; first_name: string; last_name: string;
  super_admin: Bool; org_id: string; created_at: string; updated_at: string;
}

export interface IdentityTable {
  id: string; org_id: string; name: string;
  /** Organization role: admin | member | no-access. */
  org_role: string;
  has_delete_protection: Bool; metadata: string; created_at: string; updated_at: string;
}

/** Token auth of the bootstrap admin identity and universal auth share the access-token table. */
export interface UniversalAuthTable {
  id: string; identity_id: string; client_id: string;
  access_token_ttl: number; access_token_max_ttl: number; access_token_num_uses_limit: number; access_token_period: number;
  client_secret_trusted_ips: string; access_token_trusted_ips: string;
  lockout_enabled: Bool; lockout_threshold: number; lockout_duration_seconds: number; lockout_counter_reset_seconds: number;
  created_at: string; updated_at: string;
}

export interface ClientSecretTable {
  id: string; identity_ua_id: string; description: string; secret_hash: string; prefix: string;
  num_uses: number; num_uses_limit: number; ttl: number; is_revoked: Bool; created_at: string; updated_at: string;
}

export interface UaLockoutTable { identity_ua_id: string; failures: number; window_started_at: string; locked_until: string | null }

export interface AccessTokenTable {
  id: string; identity_id: string; secret_hash: string; auth_method: string;
  ttl: number; max_ttl: number; num_uses: number; num_uses_limit: number; period: number;
  trusted_ips: string; is_revoked: Bool; last_renewed_at: string; created_at: string; updated_at: string;
}

export interface ProjectTable {
  id: string; org_id: string; name: string; slug: string; description: string | null; type: string;
  encrypted_data_key: string; auto_capitalization: Bool; has_delete_protection: Bool; created_at: string; updated_at: string;
}

export interface EnvironmentTable { id: string; project_id: string; name: string; slug: string; position: number; created_at: string; updated_at: string }

export interface FolderTable {
  id: string; env_id: string; parent_id: string | null; name: string; path: string; version: number;
  description: string | null; last_secret_modified: string | null; created_at: string; updated_at: string;
}

export interface MembershipTable {
  id: string; project_id: string; identity_id: string; role: string;
  /** Temporary access (migration 013): the role holds from access_starts_at until access_ends_at; null, null = permanent. */
  temporary_range?: string | null; access_starts_at?: string | null; access_ends_at?: string | null;
  created_at: string; updated_at: string;
}

export interface SecretTable {
  id: string; project_id: string; env_id: string; folder_id: string; key: string; type: string; version: number;
  encrypted_value: string; encrypted_comment: string; skip_multiline_encoding: Bool;
  reminder_note: string | null; reminder_repeat_days: number | null; metadata: string; tag_ids: string;
  created_at: string; updated_at: string;
}

export interface SecretVersionTable {
  id: string; secret_id: string; version: number; key: string; encrypted_value: string; encrypted_comment: string;
  created_at: string;
}

export interface SecretImportTable {
  id: string; folder_id: string; position: number; import_env_id: string; import_path: string; is_replication: Bool;
  created_at: string; updated_at: string;
}

export interface TagTable { id: string; project_id: string; slug: string; name: string; color: string | null; created_at: string; updated_at: string }

export interface AuditLogTable {
  id: string; org_id: string | null; project_id: string | null; actor_type: string; actor_id: string | null;
  action: string; resource_type: string; resource_id: string | null; ip: string | null; user_agent: string | null;
  metadata: string; created_at: string;
}

export interface CertificateAuthorityTable {
  id: string; project_id: string; name: string; type: string; status: string; disable_direct_issuance: Bool;
  /** JSON: type (root|intermediate), subject fields, keyAlgorithm, maxPathLength, parentCaId, notBefore, notAfter, dn. */
  configuration: string;
  encrypted_private_key: string; active_ca_cert_id: string | null; created_at: string; updated_at: string;
}

export interface CaCertificateTable {
  id: string; ca_id: string; version: number; certificate: string; certificate_chain: string; serial_number: string;
  not_before: string; not_after: string; created_at: string;
  /** Set when the CA was revoked; `issuer_ca_id` is the CA in the KMS that signed this certificate (migration 014). */
  revoked_at?: string | null; revocation_reason?: number | null; issuer_ca_id?: string | null;
}

export interface CaCrlTable {
  id: string; ca_id: string; crl_number: number; der: string; this_update: string; next_update: string; created_at: string; updated_at: string;
}

export interface CertificatePolicyTable { id: string; project_id: string; name: string; description: string | null; rules: string; created_at: string; updated_at: string }

export interface CertificateProfileTable {
  id: string; project_id: string; ca_id: string | null; policy_id: string; slug: string; description: string | null;
  enrollment_type: string; issuer_type: string; api_config: string | null; est_config: string | null; acme_config: string | null;
  defaults: string | null; created_at: string; updated_at: string;
}

export interface CertificateTable {
  id: string; project_id: string; ca_id: string | null; ca_cert_id: string | null; profile_id: string | null; status: string;
  serial_number: string; common_name: string; alt_names: string; not_before: string; not_after: string;
  revoked_at: string | null; revocation_reason: number | null; key_usages: string; extended_key_usages: string;
  key_algorithm: string; signature_algorithm: string; certificate: string;
  /** "" for a certificate of an internal CA: its chain is that of `ca_cert_id`, which the store's reads fill in. */
  certificate_chain: string;
  encrypted_private_key: string | null; fingerprint_sha256: string;
  /** JSON of the resolved request (attributes, key source), so a renewal asks for the same thing. */
  request: string; renewed_from_id: string | null; created_at: string; updated_at: string;
}

export interface CertificateRequestTable {
  id: string; project_id: string; profile_id: string | null; status: string; certificate_id: string | null;
  error_message: string | null; attributes: string; created_at: string; updated_at: string;
}

export interface DynamicSecretTable {
  id: string; project_id: string; env_id: string; folder_id: string; name: string; version: number; type: string;
  default_ttl: string; max_ttl: string | null;
  /** JSON of the provider inputs (admin password included), sealed with the project key. */
  encrypted_inputs: string;
  status: string | null; status_details: string | null; username_template: string | null; metadata: string; created_at: string; updated_at: string;
}

export interface DynamicSecretLeaseTable {
  id: string; dynamic_secret_id: string; project_id: string; version: number; external_entity_id: string; expire_at: string;
  /** JSON of the lease credentials (DB_USERNAME, DB_PASSWORD), sealed with the project key. */
  encrypted_data: string;
  status: string | null; status_details: string | null; config: string | null;
  /** Set while a revoke or renewal runs, so two never run at once; lapses if its holder dies. */
  lock_until: string | null; created_at: string; updated_at: string;
}

/** A workload auth method attached to an identity (kubernetes, aws, gcp, azure, service-key, tls-cert). */
export interface WorkloadAuthTable {
  id: string; identity_id: string; method: string; project_id: string | null; config: string; encrypted_secrets: string | null;
  access_token_ttl: number; access_token_max_ttl: number; access_token_num_uses_limit: number; access_token_trusted_ips: string;
  created_at: string; updated_at: string;
}

export interface ServicePublicKeyTable { id: string; identity_id: string; key_version: string; public_key: string; created_at: string }

export interface UsedJtiTable { id: string; expires_at: string }

export interface InstanceRegisterTokenTable {
  id: string; identity_id: string; instance_id: string; token_hash: string; expires_at: string; used_at: string | null; created_by: string; created_at: string;
}

export interface ServiceCertificateTable { certificate_id: string; identity_id: string; project_id: string; profile_id: string; instance_id: string | null; created_at: string }

/** ACME (RFC 8555) state, per certificate profile (migration 004_enrollment). */
export interface AcmeEabCredentialTable {
  /** The EAB key identifier clients send (`--eab-kid`). */
  id: string; profile_id: string; description: string | null;
  /** The HMAC key, sealed with the project key: verifying a binding needs the key itself, so it cannot be a hash. */
  encrypted_hmac_key: string; created_at: string; updated_at: string;
}

export interface AcmeAccountTable {
  id: string; profile_id: string;
  /** RFC 7638 SHA-256 thumbprint of the account key, base64url: one account per key and profile. */
  thumbprint: string; jwk: string;
  /** valid | deactivated | revoked */
  status: string; contact: string; eab_id: string | null; created_at: string; updated_at: string;
}

export interface AcmeOrderTable {
  id: string; account_id: string; profile_id: string;
  /** pending | ready | processing | valid | invalid */
  status: string;
  /** JSON [{type, value}] as the client asked (wildcards keep their `*.`). */
  identifiers: string; not_before: string | null; not_after: string | null; expires: string;
  /** JSON problem document when the order became invalid. */
  error: string | null; certificate_id: string | null;
  /** RFC 9773 certificate ID of the certificate this order replaces. */
  replaces: string | null; created_at: string; updated_at: string;
}

export interface AcmeAuthorizationTable {
  id: string; account_id: string; order_id: string; identifier_type: string;
  /** Without the `*.` of a wildcard (RFC 8555 7.1.4); `wildcard` says whether there was one. */
  identifier_value: string; wildcard: Bool; status: string; expires: string; created_at: string; updated_at: string;
}

export interface AcmeChallengeTable {
  id: string; authz_id: string; type: string; token: string; status: string; validated: string | null;
  /** JSON problem document of the last failed validation. */
  error: string | null; created_at: string; updated_at: string;
}

export interface AcmeNonceTable { value: string; expires_at: string }

/** An upstream ACME CA (migration 006_external_ca); its certificate_authorities row has type "acme". */
export interface ExternalCaTable {
  ca_id: string; project_id: string; directory_url: string; account_email: string; account_url: string | null;
  /** JSON {accountKey, eabHmacKey?, dns?: {tsigSecret}}, sealed with the project key. */
  encrypted_secrets: string; eab_kid: string | null;
  /** http-01 | dns-01 */
  challenge_type: string; dns_config: string | null; ca_bundle: string | null; order_timeout_seconds: number;
  created_at: string; updated_at: string;
}

export interface ExternalOrderTable {
  request_id: string; ca_id: string; project_id: string; profile_id: string;
  /** new | ordered | done */
  state: string; order_url: string | null; csr: string; encrypted_private_key: string | null;
  details: string; deadline: string; next_attempt_at: string; lock_until: string | null; created_at: string; updated_at: string;
}

export interface ExternalHttpChallengeTable { token: string; request_id: string; key_authorization: string; created_at: string }

/** A customer-managed key (api.md 6); its material is in kms_key_versions. */
export interface KmsKeyTable {
  id: string; org_id: string; project_id: string; name: string; description: string; is_disabled: Bool;
  /** encrypt-decrypt | sign-verify */
  key_usage: string;
  /** aes-256-gcm | aes-128-gcm | RSA_4096 | ECC_NIST_P256 */
  algorithm: string;
  /** The version new ciphertext and signatures use. */
  version: number; created_at: string; updated_at: string;
}

export interface KmsKeyVersionTable {
  kms_key_id: string; version: number;
  /** AES key bytes or a PKCS#8 DER private key, sealed with the project key. */
  encrypted_material: string;
  /** Base64 SPKI DER of a sign-verify key (public, so not sealed); null for encrypt-decrypt keys. */
  public_key: string | null; created_at: string;
}

export interface Database {
  meta: MetaTable;
  organizations: OrganizationTable;
  users: UserTable;
  identities: IdentityTable;
  universal_auths: UniversalAuthTable;
  client_secrets: ClientSecretTable;
  ua_lockouts: UaLockoutTable;
  access_tokens: AccessTokenTable;
  projects: ProjectTable;
  environments: EnvironmentTable;
  folders: FolderTable;
  memberships: MembershipTable;
  secrets: SecretTable;
  secret_versions: SecretVersionTable;
  secret_imports: SecretImportTable;
  tags: TagTable;
  audit_logs: AuditLogTable;
  certificate_authorities: CertificateAuthorityTable;
  ca_certificates: CaCertificateTable;
  ca_crls: CaCrlTable;
  certificate_policies: CertificatePolicyTable;
  certificate_profiles: CertificateProfileTable;
  certificates: CertificateTable;
  certificate_requests: CertificateRequestTable;
  dynamic_secrets: DynamicSecretTable;
  dynamic_secret_leases: DynamicSecretLeaseTable;
  identity_workload_auths: WorkloadAuthTable;
  service_public_keys: ServicePublicKeyTable;
  used_jtis: UsedJtiTable;
  instance_register_tokens: InstanceRegisterTokenTable;
  service_certificates: ServiceCertificateTable;
  acme_eab_credentials: AcmeEabCredentialTable;
  acme_accounts: AcmeAccountTable;
  acme_orders: AcmeOrderTable;
  acme_authorizations: AcmeAuthorizationTable;
  acme_challenges: AcmeChallengeTable;
  acme_nonces: AcmeNonceTable;
  external_cas: ExternalCaTable;
  external_orders: ExternalOrderTable;
  external_http_challenges: ExternalHttpChallengeTable;
  kms_keys: KmsKeyTable;
  kms_key_versions: KmsKeyVersionTable;
}
