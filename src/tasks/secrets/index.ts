/** Secrets at rest (sealed in the store) and on their way to the nodes that need them. */
export { secretsKey, seal, unseal } from './sealing.js'
export { taskSecretsOf, type TaskBlob } from './task-blobs.js'
