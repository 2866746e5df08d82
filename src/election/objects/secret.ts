/**
 * Secrets and configs (Docker's Secret and Config, SwarmKit's api.Secret/api.Config): named blobs that
 * services reference and nodes hand to containers as files. A config is stored as given; a secret is
 * stored sealed (AES-256-GCM under the cluster's secrets key, src/tasks/secrets), so that no Raft
 * entry, snapshot or data dir holds its plaintext; only a node that runs a task referencing it is sent
 * the plaintext, over its authenticated, encrypted dispatcher session.
 */

/** What `secret create` / `config create` name and label (Docker's SecretSpec/ConfigSpec minus Data). */
export interface BlobSpec {
  readonly Name: string
  readonly Labels: Readonly<Record<string, string>>
}

/** What secrets and configs share: identity, Raft version, times and spec. */
export interface BlobObject {
  readonly id: string
  /** Equal to `spec.Name`. */
  readonly name: string
  readonly version: number
  readonly createdAtMs: number
  readonly updatedAtMs: number
  readonly spec: BlobSpec
}

export interface SecretObject extends BlobObject {
  /** The data sealed: nonce (12 bytes) | ciphertext | tag (16 bytes). Never the plaintext. */
  readonly sealed: Uint8Array
}

export interface ConfigObject extends BlobObject {
  readonly data: Uint8Array
}
