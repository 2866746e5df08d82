/**
 * The files a task's secrets and configs become (Docker's /run/secrets/NAME and config targets): written
 * on the host before the container is created, bind-mounted read-only into it; a secret removed when the
 * container stops, a config when the container is removed.
 * Secrets only ever touch a tmpfs (RAM): their directory must be on one, or the task is rejected saying
 * so; configs may live on disk, in the agent's data dir.
 */
import { chmod, chown, mkdir, rm, statfs, writeFile } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { FlotillaError } from '../../../membership/index.js'
import type { FileTarget, TaskDescription } from '../types.js'

/** statfs's f_type of a tmpfs (linux/magic.h TMPFS_MAGIC). */
const TMPFS_MAGIC = 0x01021994

/** Where the files go. `secretsDir` must be on a tmpfs (checked before the first secret is written). */
export interface TaskFilesInit {
  readonly secretsDir: string
  readonly configsDir: string
}

/** The path in the container: a secret's relative name under /run/secrets, a config's as given (absolute). */
export function containerTarget (kind: 'secret' | 'config', file: FileTarget, name: string): string {
  const target = file.Name === '' ? name : file.Name
  if (kind === 'secret') return target.startsWith('/') ? posix.normalize(target) : posix.join('/run/secrets', target)
  return target.startsWith('/') ? posix.normalize(target) : posix.join('/', target)
}

export class TaskFiles {
  private tmpfsChecked = false

  constructor (private readonly init: TaskFilesInit) {}

  /**
   * Write `task`'s secret and config files and return their binds (`host:container:ro`). Throws, not
   * retryable, when a referenced object's data did not come with the assignment or no tmpfs holds secrets.
   */
  async prepare (task: TaskDescription): Promise<string[]> {
    const binds: string[] = []
    const secretRefs = task.spec.Secrets ?? []
    if (secretRefs.length > 0) {
      await this.checkTmpfs()
      const dir = join(this.init.secretsDir, task.taskId)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      for (const ref of secretRefs) {
        const blob = (task.secrets ?? []).find(b => b.id === ref.SecretID)
        if (blob === undefined) throw new FlotillaError('not-found', `secret ${ref.SecretName} (${ref.SecretID}) of task ${task.taskId} was not sent with its assignment`)
        binds.push(`${await this.write(join(dir, ref.SecretID), blob.data, ref.File)}:${containerTarget('secret', ref.File, ref.SecretName)}:ro`)
      }
    }
    const configRefs = task.spec.Configs ?? []
    if (configRefs.length > 0) {
      const dir = join(this.init.configsDir, task.taskId)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      for (const ref of configRefs) {
        const blob = (task.configs ?? []).find(b => b.id === ref.ConfigID)
        if (blob === undefined) throw new FlotillaError('not-found', `config ${ref.ConfigName} (${ref.ConfigID}) of task ${task.taskId} was not sent with its assignment`)
        binds.push(`${await this.write(join(dir, ref.ConfigID), blob.data, ref.File)}:${containerTarget('config', ref.File, ref.ConfigName)}:ro`)
      }
    }
    return binds
  }

  /** Remove the task's secret files (its container stopped). */
  async removeSecrets (taskId: string): Promise<void> {
    await rm(join(this.init.secretsDir, taskId), { recursive: true, force: true })
  }

  /** Remove the task's files (its container is gone). */
  async remove (taskId: string): Promise<void> {
    await rm(join(this.init.secretsDir, taskId), { recursive: true, force: true })
    await rm(join(this.init.configsDir, taskId), { recursive: true, force: true })
  }

  /** Remove every task's files (the node left the cluster or was removed from it). */
  async wipe (): Promise<void> {
    await rm(this.init.secretsDir, { recursive: true, force: true })
    await rm(this.init.configsDir, { recursive: true, force: true })
  }

  private async write (path: string, data: Uint8Array, file: FileTarget): Promise<string> {
    await writeFile(path, data, { mode: 0o600 })
    const uid = Number(file.UID === '' ? '0' : file.UID)
    const gid = Number(file.GID === '' ? '0' : file.GID)
    if (Number.isInteger(uid) && Number.isInteger(gid)) await chown(path, uid, gid)
    await chmod(path, file.Mode)
    return path
  }

  private async checkTmpfs (): Promise<void> {
    if (this.tmpfsChecked) return
    await mkdir(this.init.secretsDir, { recursive: true, mode: 0o700 })
    const st = await statfs(this.init.secretsDir)
    if (st.type !== TMPFS_MAGIC) {
      throw new FlotillaError('unavailable', `${this.init.secretsDir} is not on a tmpfs: flotilla writes secrets to memory only`, {
        hint: 'start the agent with --secrets-dir on a tmpfs (/run or /dev/shm usually are)'
      })
    }
    this.tmpfsChecked = true
  }
}
