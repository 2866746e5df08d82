/**
 * Requests served by the control socket and by the dashboard's listener, by route template (the
 * router's pattern, e.g. `/services/{id}`, so that the label's values stay bounded), method and status,
 * with their latency to the response's head (a streamed response — logs, events — counts until it starts).
 */
import { Counter, Histogram, type Registry } from 'prom-client'

/** Where a request came in. */
export type Listener = 'socket' | 'ui'

/** Control calls answer in a millisecond (a local read) to seconds (a write waiting for a leader). */
const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class RequestMetrics {
  private readonly requests: Counter
  private readonly latency: Histogram

  constructor (registry: Registry) {
    this.requests = new Counter({
      name: 'flotilla_control_requests_total',
      help: 'Requests answered, by listener (socket: the control socket; ui: the dashboard), method, route template and HTTP status.',
      labelNames: ['listener', 'method', 'route', 'status'],
      registers: [registry]
    })
    this.latency = new Histogram({
      name: 'flotilla_control_request_duration_seconds',
      help: 'Time from a request\'s arrival to its response\'s head, by listener, method and route template.',
      labelNames: ['listener', 'method', 'route'],
      buckets: LATENCY_BUCKETS_S,
      registers: [registry]
    })
  }

  observe (listener: Listener, method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ listener, method, route, status: String(status) })
    this.latency.observe({ listener, method, route }, seconds)
  }
}
