import type { FirewallRule } from './firewall.js'
import { FAULT_CHAIN_IN, FAULT_CHAIN_OUT } from './firewall.js'

/**
 * A fault the bed has injected and not yet undone. Network faults are iptables DROP rules in the bed's
 * own chains of a host's netns (firewall.ts) or a tbf qdisc; process faults are signals or stops.
 * `host`, `from` and `to` are bed host names (`h1`…).
 */
export type Fault =
  /** Every packet in or out of the host's veth is dropped (its loopback still works). */
  | { readonly kind: 'isolate', readonly host: string }
  /** Packets from `from` to `to` are dropped in `from`'s netns; the other direction still flows. */
  | { readonly kind: 'cut', readonly from: string, readonly to: string }
  /** Each packet in or out of the host's veth is dropped with `probability` (0–1), independently. */
  | { readonly kind: 'loss', readonly host: string, readonly probability: number }
  /** The host's veth carries at most `kbitPerSecond` each way (tbf: packets queue, then drop). */
  | { readonly kind: 'throttle', readonly host: string, readonly kbitPerSecond: number }
  /** The host's agent is stopped by SIGSTOP. */
  | { readonly kind: 'agent-paused', readonly host: string }
  /** The host's agent was killed by SIGKILL and not restarted. */
  | { readonly kind: 'agent-killed', readonly host: string }
  /** The host's engine (dockerd, containerd, containers) is stopped. */
  | { readonly kind: 'engine-stopped', readonly host: string }

export type FaultKind = Fault['kind']

/** Network faults, which `heal` undoes first. */
export const NETWORK_FAULTS: readonly FaultKind[] = ['isolate', 'cut', 'loss', 'throttle']

interface ActiveFault {
  readonly fault: Fault
  readonly undo: () => Promise<void>
}

/** The hosts a fault touches: healing any of them undoes it. */
export function faultHosts (f: Fault): string[] {
  return f.kind === 'cut' ? [f.from, f.to] : [f.host]
}

/**
 * The faults in force, in the order they were made, each with how to undo it. `undo` runs the undo
 * steps newest first, so that stacked faults unwind in reverse.
 */
export class FaultLog {
  private readonly active: ActiveFault[] = []

  list (): Fault[] { return this.active.map(a => a.fault) }

  add (fault: Fault, undo: () => Promise<void>): void {
    this.active.push({ fault, undo })
  }

  /** Forget (without undoing) the faults that match, e.g. when the caller undid one by hand. */
  forget (match: (f: Fault) => boolean): void {
    for (let i = this.active.length - 1; i >= 0; i--) if (match(this.active[i]!.fault)) this.active.splice(i, 1)
  }

  /** Undo, newest first, every fault that matches; returns them. A failing undo stops the walk and throws. */
  async undo (match: (f: Fault) => boolean): Promise<Fault[]> {
    const undone: Fault[] = []
    for (let i = this.active.length - 1; i >= 0; i--) {
      const a = this.active[i]!
      if (!match(a.fault)) continue
      await a.undo()
      this.active.splice(i, 1)
      undone.push(a.fault)
    }
    return undone
  }

  /** Forget every fault (teardown removes their effects with the namespaces and processes). */
  clear (): void { this.active.length = 0 }
}

/** The rules that isolate a host: drop everything in and out of its veth. */
export function isolateRules (netns: string, veth: string): FirewallRule[] {
  return [
    { netns, chain: FAULT_CHAIN_IN, spec: ['-i', veth, '-j', 'DROP'] },
    { netns, chain: FAULT_CHAIN_OUT, spec: ['-o', veth, '-j', 'DROP'] }
  ]
}

/** The rule that drops what the sender (in `netns`) sends to `peerIp`. */
export function cutRule (netns: string, peerIp: string): FirewallRule {
  return { netns, chain: FAULT_CHAIN_OUT, spec: ['-d', `${peerIp}/32`, '-j', 'DROP'] }
}

/** The rules that drop each packet in and out of the veth with `probability` (iptables' statistic match; this kernel has no netem). */
export function lossRules (netns: string, veth: string, probability: number): FirewallRule[] {
  const p = probability.toFixed(4)
  return [
    { netns, chain: FAULT_CHAIN_IN, spec: ['-i', veth, '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'] },
    { netns, chain: FAULT_CHAIN_OUT, spec: ['-o', veth, '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'] }
  ]
}
