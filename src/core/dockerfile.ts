import { DockerfileParser } from 'dockerfile-ast'

/**
 * The images a Dockerfile's FROM lines start from, in order and without
 * repeats: earlier build stages and `scratch` left out, the variables of the
 * ARG lines before the first FROM filled in, `buildArgs` (`NAME=value`) taking
 * precedence over their defaults. A reference that still holds a variable is
 * returned as written.
 */
export function fromImages(dockerfile: string, buildArgs: string[]): string[] {
  const parsed = DockerfileParser.parse(dockerfile)
  const declared = new Set<string>()
  const values = new Map<string, string>()
  for (const arg of parsed.getInitialARGs()) {
    const name = arg.getProperty()?.getName()
    const value = arg.getProperty()?.getValue()
    if (name) declared.add(name)
    if (name && value !== null && value !== undefined) values.set(name, value)
  }
  // A build arg reaches FROM only through an ARG line before the first FROM.
  for (const buildArg of buildArgs) {
    const at = buildArg.indexOf('=')
    const name = buildArg.slice(0, at)
    if (at > 0 && declared.has(name)) values.set(name, buildArg.slice(at + 1))
  }

  const stages = new Set<string>()
  const images: string[] = []
  for (const from of parsed.getFROMs()) {
    const image = expand(from.getImage() ?? '', values, declared)
    if (image && image !== 'scratch' && !stages.has(image.toLowerCase()) && !images.includes(image)) {
      images.push(image)
    }
    const stage = from.getBuildStage()
    if (stage) stages.add(stage.toLowerCase())
  }
  return images
}

/**
 * Fills in `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}`, as the
 * builder does; a name with no value stays as written, except where an
 * operator says what an unset one gives.
 */
function expand(text: string, values: Map<string, string>, declared: Set<string>): string {
  return text.replace(
    /\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\})/g,
    (whole: string, bare?: string, braced?: string, operator?: string, word?: string) => {
      const name = bare ?? braced ?? ''
      const value = values.get(name)
      const alternative = expand(word ?? '', values, declared)
      if (operator === '-' && (value || declared.has(name))) return value || alternative
      if (operator === '+' && (value !== undefined || declared.has(name))) return value ? alternative : ''
      return value ?? whole
    }
  )
}
