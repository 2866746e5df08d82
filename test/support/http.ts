import { request } from 'node:http'

export interface HttpReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly text: string
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: any
}

/**
 * One HTTP request to 127.0.0.1:`port` with exactly the headers given (a Host of `127.0.0.1:port`
 * unless `headers` names another), bounded by `timeoutMs`.
 */
export async function httpCall (port: number, method: string, path: string, headers: Readonly<Record<string, string>> = {}, body?: unknown, timeoutMs = 10_000): Promise<HttpReply> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, ...(payload === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers }, timeout: timeoutMs }, res => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => {
        let json: unknown
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
    })
    req.on('timeout', () => { req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)) })
    req.on('error', reject)
    req.end(payload)
  })
}
