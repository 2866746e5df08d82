// Process entry. msgpackr's native string decoder (msgpackr-extract) costs ~9 MB of resident memory
// for no gain on heartbeat-sized frames; it is read once at load, so switch it off before anything
// imports msgpackr.
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true'
await import('./cli.js')
