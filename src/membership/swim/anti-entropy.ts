import { pushPullIntervalMs, type SwimConfig } from './config.js'
import { ALIVE, DEAD, type MemberDirectory } from './member-list.js'
import type { SwimState } from './swim-state.js'
import type { StateEntry, SwimMessage, SwimStats } from './types.js'

/** Strangers remembered at once (each a member heard from before it was heard of); beyond, forgotten. */
const MAX_STRANGERS = 1024

/** What anti-entropy shares with the core: the table (and its clock), the generator, the outbox. */
export interface AntiEntropyDeps {
  readonly config: SwimConfig
  readonly state: SwimState
  readonly directory: MemberDirectory
  readonly random: () => number
  readonly stats: SwimStats
  readonly send: (to: string, message: SwimMessage) => void
}

/**
 * Push-pull anti-entropy (memberlist's pushPull and mergeState; Serf's reconnect) and the join that is
 * built on it: a full table exchange with one random alive member every push-pull interval, with a dead
 * one now and then, and with a joiner's seeds until one of them answers.
 */
export class AntiEntropy {
  private nextPushPullAtMs: number
  /** Seeds of a join that no seed has answered yet, and when to ask them again. */
  private joinSeeds: readonly string[] = []
  private nextJoinAtMs = Infinity
  /** Members heard from before heard of, and when this node may push-pull with each again. */
  private readonly strangers = new Map<string, number>()

  constructor (private readonly d: AntiEntropyDeps, nowMs: number) {
    // A random start, so that nodes started together do not push-pull in lockstep.
    const interval = pushPullIntervalMs(d.config.pushPullIntervalMs, d.state.list.liveCount)
    this.nextPushPullAtMs = d.config.pushPullIntervalMs === 0 ? Infinity : nowMs + Math.floor(d.random() * interval)
  }

  private get now (): number { return this.d.state.now }

  /** True while a join waits for its first answer. */
  get joining (): boolean { return this.joinSeeds.length > 0 }

  nextDeadlineMs (): number {
    return Math.min(this.nextPushPullAtMs, this.nextJoinAtMs)
  }

  tick (): void {
    const now = this.now
    if (now >= this.nextPushPullAtMs) {
      this.pushPull()
      this.nextPushPullAtMs = now + pushPullIntervalMs(this.d.config.pushPullIntervalMs, this.d.state.list.liveCount)
    }
    if (now >= this.nextJoinAtMs) this.sendJoin()
  }

  /**
   * A message came from a member this node does not know (it joined while this node was joining, and
   * their announcements crossed): push-pull with it, at most once per joinRetryMs, rather than wait for
   * the periodic push-pull to bring it. Both ends then know each other and all the other knows.
   */
  stranger (from: string): void {
    const now = this.now
    if ((this.strangers.get(from) ?? -Infinity) > now) return
    if (this.strangers.size >= MAX_STRANGERS) this.strangers.clear()
    this.strangers.set(from, now + this.d.config.joinRetryMs)
    this.d.stats.pushPulls++
    this.d.send(from, { t: 'push-pull', join: false, reply: false, states: this.d.state.fullState(null) })
  }

  /** Push-pull with each of `seeds` now, and again every joinRetryMs until one answers. */
  join (seeds: readonly string[]): void {
    this.joinSeeds = seeds
    this.sendJoin()
  }

  /** Anti-entropy with a random alive member and (Serf's reconnect), with probability dead/alive, a random dead one. */
  private pushPull (): void {
    const { state, random, directory } = this.d
    const l = state.list
    const targets = l.randomMembers(1, random, s => s !== state.selfSlot && l.state[s] === ALIVE)
    const dead = l.count(DEAD)
    if (dead > 0 && random() < dead / Math.max(1, l.count(ALIVE))) {
      targets.push(...l.randomMembers(1, random, s => l.state[s] === DEAD))
    }
    if (targets.length === 0) return
    const states = state.fullState(null)
    for (const t of targets) {
      this.d.stats.pushPulls++
      this.d.send(directory.idOf(t), { t: 'push-pull', join: false, reply: false, states })
    }
  }

  private sendJoin (): void {
    if (this.joinSeeds.length === 0) {
      this.nextJoinAtMs = Infinity
      return
    }
    const states = this.d.state.fullState(null)
    for (const seed of this.joinSeeds) this.d.send(seed, { t: 'push-pull', join: true, reply: false, states })
    this.nextJoinAtMs = this.now + this.d.config.joinRetryMs
  }

  /**
   * Merge the sender's table, and answer a request with ours. Unlike memberlist the answer is built after
   * the merge, so that it carries our refutation of anything the sender held against us: after a
   * partition, one push-pull across it makes both ends alive again on both ends.
   */
  onPushPull (from: string, join: boolean, reply: boolean, states: readonly StateEntry[]): void {
    if (reply && join && this.joinSeeds.length > 0) {
      this.joinSeeds = []
      this.nextJoinAtMs = Infinity
      // The seed's table is a snapshot: members whose own joins were still spreading are not in it. One
      // more push-pull soon after, with a random member, brings them.
      if (this.d.config.pushPullIntervalMs > 0) this.nextPushPullAtMs = Math.min(this.nextPushPullAtMs, this.now + 2 * this.d.config.joinRetryMs)
    }
    // A join's answer is old news to everyone else: merged without gossiping it on.
    this.d.state.merge(states, reply && join)
    if (reply) return
    const asker = new Map<string, number>()
    for (const e of states) asker.set(e[0], e[3])
    this.d.send(from, { t: 'push-pull', join, reply: true, states: this.d.state.fullState(asker) })
  }
}
