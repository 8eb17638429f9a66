import { DockerfileParser } from 'dockerfile-ast'

/**
 * The images a Dockerfile's FROM lines start from, in order and without
 * repeats: earlier build stages and `scratch` left out, the ARG lines before
 * the first FROM filled in, in order, `buildArgs` (`NAME=value`) taking
 * precedence over their defaults. A reference that still holds a variable
 * without a value is returned as written.
 */
export function fromImages(dockerfile: string, buildArgs: string[]): string[] {
  const parsed = DockerfileParser.parse(dockerfile)
  const given = new Map(
    buildArgs.filter(arg => arg.indexOf('=') > 0).map(arg => [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)])
  )
  // A build arg reaches FROM only through an ARG line before the first FROM.
  const values = new Map<string, string>()
  for (const arg of parsed.getInitialARGs()) {
    const name = arg.getProperty()?.getName()
    const fallback = arg.getProperty()?.getValue()
    if (!name) continue
    const value = given.get(name) ?? (fallback === null || fallback === undefined ? undefined : expand(fallback, values))
    if (value !== undefined) values.set(name, value)
  }

  const stages = new Set<string>()
  const images: string[] = []
  for (const from of parsed.getFROMs()) {
    const image = expand(from.getImage() ?? '', values)
    if (image && image !== 'scratch' && !stages.has(image.toLowerCase()) && !images.includes(image)) {
      images.push(image)
    }
    const stage = from.getBuildStage()
    if (stage) stages.add(stage.toLowerCase())
  }
  return images
}

/**
 * Fills in `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` as the
 * builder does; a plain `$NAME` with no value stays as written.
 */
function expand(text: string, values: Map<string, string>): string {
  return text.replace(
    /\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\})/g,
    (whole: string, bare?: string, braced?: string, operator?: string, word?: string) => {
      const value = values.get(bare ?? braced ?? '')
      const alternative = () => expand(word ?? '', values)
      if (operator === '-') return value || alternative()
      if (operator === '+') return value ? alternative() : ''
      return value ?? whole
    }
  )
}
