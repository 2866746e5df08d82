/** Run `fn` and return what it throws; fails the test, showing what came back, when it does not throw. */
export function catchError (fn: () => unknown): unknown {
  let returned: unknown
  try {
    returned = fn()
  } catch (err) {
    return err
  }
  const shown = returned instanceof Map ? Object.fromEntries(returned) : returned
  throw new Error(`expected a throw, got ${JSON.stringify(shown)}`)
}
