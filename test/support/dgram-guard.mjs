// Loaded with `node --import` into every agent the tests start: any attempt to open a UDP socket
// throws and leaves a marker on stderr that the tests look for. (Loading the dgram module is fine —
// Node's own `cluster` module does — opening a socket is not.)
import dgram from 'node:dgram'
import { syncBuiltinESMExports } from 'node:module'

const original = dgram.createSocket
dgram.createSocket = function guardedCreateSocket (...args) {
  process.stderr.write(`DGRAM-GUARD: dgram.createSocket called\n${new Error().stack}\n`)
  throw new Error('flotilla must not open UDP sockets (dgram guard)')
}
dgram.Socket = new Proxy(dgram.Socket, {
  construct () {
    process.stderr.write('DGRAM-GUARD: new dgram.Socket\n')
    throw new Error('flotilla must not open UDP sockets (dgram guard)')
  }
})
void original
syncBuiltinESMExports()
