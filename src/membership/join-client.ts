import type { P2PHost } from './host.js'
import { requestJoin, type JoinGrant } from './join-protocol.js'
import type { ParsedToken } from './token.js'
import { FlotillaError, asFlotillaError } from './errors.js'
import type { Logger } from './logger.js'

/** At most this many addresses are tried per join, redirects included. */
const MAX_JOIN_ADDRESSES = 8

/**
 * The joiner's side of the join handshake: try each address in turn; a worker answers with a redirect
 * to its managers, whose addresses are tried next. Resolves with the first grant; a refusal (bad token,
 * wrong cluster) throws at once, and when every address was unreachable the last error is thrown
 * (retryable, so that `--join` at start keeps trying).
 */
export async function joinThrough (
  host: P2PHost, remotes: readonly string[], token: ParsedToken, hostname: string, advertise: string, log: Logger
): Promise<JoinGrant> {
  const queue = [...remotes]
  const tried = new Set<string>()
  let lastError: FlotillaError | null = null
  while (queue.length > 0 && tried.size < MAX_JOIN_ADDRESSES) {
    const addr = queue.shift()!
    if (tried.has(addr)) continue
    tried.add(addr)
    let outcome
    try {
      outcome = await requestJoin(host, addr, token, hostname, [advertise])
    } catch (err) {
      const e = asFlotillaError(err)
      if (!e.retryable) throw e
      lastError = e
      continue
    }
    if (outcome.kind === 'redirect') {
      log.info('join address cannot admit; trying the managers it named', { managers: outcome.managers.join(',') })
      queue.push(...outcome.managers)
      lastError = new FlotillaError('unavailable', outcome.message, { retryable: true, hint: 'join through a manager\'s address' })
      continue
    }
    return outcome.grant
  }
  throw lastError ?? new FlotillaError('invalid-argument', 'no address to join')
}
