import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** The receive-window fields of a yamux stream that the override reads (private in its typings). */
interface ReceiveWindow {
  readonly state: StreamState
  readonly recvWindow: number
  readonly recvWindowCapacity: number
}

let installed = false

/**
 * Make yamux streams grant send window once half of it is used, as hashicorp/yamux and go-yamux do,
 * instead of after every chunk read.
 *
 * @chainsafe/libp2p-yamux 7 sends a window-update frame back for every data frame the reader takes:
 * each SWIM ping, ack, heartbeat and Raft append costs a second yamux frame, noise message and socket
 * write in the other direction. Those are a fifth of the CPU of a small round trip over a libp2p
 * stream (see the figures in the commit that added this). The receive window is 256 KiB or more, so
 * half of it still keeps a bulk transfer flowing. A stream that still has to send its SYN or ACK flag
 * goes through the original at once (the flag rides the update), and so does any update that is due.
 *
 * The override is on the class the package exports as `@chainsafe/libp2p-yamux/stream`: the muxer
 * factory takes no option for it. Installed once, before the first host starts.
 */
export function grantYamuxWindowAtHalf (): void {
  if (installed) return
  installed = true
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: (this: ReceiveWindow) => void }
  const sendUpdate = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: ReceiveWindow): void {
    const flagsDue = this.state === StreamState.Init || this.state === StreamState.SYNReceived
    if (!flagsDue && this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) return
    sendUpdate.call(this)
  }
}
