import { describe, expect, it } from 'vitest'
import { interpolate, substitute } from '../../../src/node/cli/stack/interpolate.js'

// Variable substitution as docker/cli's cli/compose/template and interpolation packages do it.
describe('Compose variable substitution', () => {
  const env = { TAG: '1.27', EMPTY: '', PORT: '8080', N: '3', FLAG: 'yes', BAD: 'x' }

  it.each([
    ['nginx:$TAG', 'nginx:1.27'],
    ['nginx:${TAG}', 'nginx:1.27'],
    ['${UNSET}', ''],
    ['$UNSET', ''],
    ['${UNSET:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${UNSET-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['${TAG:-fallback}', '1.27'],
    ['${TAG:?must be set}', '1.27'],
    ['${EMPTY?may be empty}', ''],
    ['$$HOME and $${TAG}', '$HOME and ${TAG}'],
    ['${PORT}:80', '8080:80'],
    // docker's quirk: an unbraced name with a default takes the rest of the string.
    ['$UNSET-a b', 'a b'],
    ['no variables', 'no variables']
  ])('%s → %s', (template, expected) => {
    expect(substitute(template, env)).toBe(expected)
  })

  it('refuses a required variable without a value and a lone $, naming the key path', () => {
    expect(() => interpolate({ services: { web: { image: '${UNSET:?set the image}' } } }, env))
      .toThrow('invalid interpolation format for services.web.image: "required variable UNSET is missing a value: set the image"; you may need to escape any $ with another $')
    expect(() => interpolate({ services: { web: { image: '${EMPTY:?must not be empty}' } } }, env)).toThrow('required variable EMPTY is missing a value: must not be empty')
    expect(() => interpolate({ services: { web: { command: ['echo', 'costs 5$'] } } }, env))
      .toThrow('invalid interpolation format for services.web.command[1]: "Invalid template: \\"costs 5$\\""')
  })

  it('substitutes values, not keys, and casts the values docker casts once substituted', () => {
    const out = interpolate({
      services: {
        $web: {
          image: 'nginx:${TAG}',
          deploy: { replicas: '${N}', update_config: { max_failure_ratio: '0.${N}' } },
          ports: [{ target: '${PORT}' }, '${PORT}:80'],
          healthcheck: { disable: '${FLAG}' },
          environment: { COUNT: '${N}' }
        }
      },
      networks: { front: { attachable: '${FLAG}' } },
      secrets: { s: { external: 'false' } }
    }, env)
    expect(out).toEqual({
      services: {
        $web: {
          image: 'nginx:1.27',
          deploy: { replicas: 3, update_config: { max_failure_ratio: 0.3 } },
          ports: [{ target: 8080 }, '8080:80'],
          healthcheck: { disable: true },
          environment: { COUNT: '3' }
        }
      },
      networks: { front: { attachable: true } },
      // Not substituted, so not cast: the schema check sees the string (as docker's).
      secrets: { s: { external: 'false' } }
    })
  })

  it('names the path when a substituted value cannot be cast', () => {
    expect(() => interpolate({ services: { web: { deploy: { replicas: '${BAD}' } } } }, env))
      .toThrow('error while interpolating services.web.deploy.replicas: failed to cast to expected type: strconv.Atoi: parsing "x": invalid syntax')
    expect(() => interpolate({ networks: { n: { external: '${BAD}' } } }, env)).toThrow('networks.n.external: failed to cast to expected type: invalid boolean: x')
  })
})
