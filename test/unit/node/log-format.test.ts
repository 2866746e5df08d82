import { describe, expect, it } from 'vitest'
import { formatLogLine } from '../../../src/node/cli/log-format.js'

const names = {
  taskName: (id: string) => (id === 'task0000000000000000000001' ? 'web.2' : undefined),
  hostname: (id: string) => (id === 'node0000000000000000000001' ? 'n1' : undefined)
}
const DETAILS = 'com.docker.swarm.node.id=node0000000000000000000001,com.docker.swarm.service.id=svc,com.docker.swarm.task.id=task0000000000000000000001'

describe('service logs lines as docker prints them', () => {
  it('names the task and its node', () => {
    expect(formatLogLine(`${DETAILS} hello world\n`, names)).toBe('web.2.task00000000@n1    | hello world\n')
  })

  it('keeps the timestamp in front of the text', () => {
    expect(formatLogLine(`2026-11-26T08:00:00.000000001Z ${DETAILS} a=b c\n`, names))
      .toBe('web.2.task00000000@n1    | 2026-11-26T08:00:00.000000001Z a=b c\n')
  })

  it('prints unknown IDs as they are, and a line without details unchanged', () => {
    const other = DETAILS.replace(/task0+1/, 'taskzzzzzzzzzzzzzzzzzzzzz').replace(/node0+1/, 'nodezzzzzzzzzzzzzzzzzzzzz')
    expect(formatLogLine(`${other} x\n`, names)).toBe('taskzzzzzzzzzzzzzzzzzzzzz.taskzzzzzzzz@nodezzzzzzzzzzzzzzzzzzzzz    | x\n')
    expect(formatLogLine('plain', names)).toBe('plain\n')
  })
})
