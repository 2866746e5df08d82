import { z } from 'zod'

/** Docker's NodeSpec, as `POST /nodes/{id}/update` takes it (the whole spec, as the docker CLI sends). */
export const NodeSpecSchema = z.object({
  Name: z.string().optional(),
  Labels: z.record(z.string()).nullable().optional(),
  Role: z.enum(['manager', 'worker']),
  Availability: z.enum(['active', 'pause', 'drain'])
})
