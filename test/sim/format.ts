import type { Entry, Message } from '../../src/election/raft/index.js'
import { decodeCommand } from './state-machine.js'

function entry (e: Entry): string {
  if (e.kind === 'conf') {
    const c = e.change
    return `${e.index}/${e.term}:${c.type}(${c.type === 'reset-voters' ? c.voters.join(',') : c.id})`
  }
  return `${e.index}/${e.term}${e.data.length === 0 ? ':noop' : ':' + decodeCommand(e.data)}`
}

function entries (es: readonly Entry[]): string {
  if (es.length === 0) return '[]'
  if (es.length <= 3) return `[${es.map(entry).join(' ')}]`
  return `[${entry(es[0] as Entry)} … ${entry(es[es.length - 1] as Entry)}] (${es.length})`
}

/** One line per message, for traces. */
export function formatMessage (m: Message): string {
  const head = `${m.from}→${m.to} ${m.type} t${m.term}`
  switch (m.type) {
    case 'pre-vote': return `${head} last=${m.lastIndex}/${m.lastTerm}`
    case 'vote': return `${head} last=${m.lastIndex}/${m.lastTerm}${m.transfer ? ' transfer' : ''}`
    case 'pre-vote-resp':
    case 'vote-resp': return `${head} ${m.granted ? 'granted' : 'rejected'}`
    case 'append': return `${head} prev=${m.prevIndex}/${m.prevTerm} ${entries(m.entries)} commit=${m.commit}`
    case 'append-resp': return `${head} ${m.success ? `ok match=${m.matchIndex}` : `reject at=${m.matchIndex} hint=${m.hintIndex}/${m.hintTerm}`}`
    case 'heartbeat': return `${head} commit=${m.commit} ctx=${m.context}`
    case 'heartbeat-resp': return `${head} ctx=${m.context}`
    case 'snapshot': return `${head} snap=${m.index}/${m.snapTerm} voters=${m.voters.join(',')} off=${m.offset}+${m.chunk.length}${m.done ? ' done' : ''}`
    case 'snapshot-resp': return `${head} snap=${m.index} off=${m.offset} ${m.success ? 'ok' : 'refused'}`
    case 'timeout-now': return head
  }
}

export { entries as formatEntries }
