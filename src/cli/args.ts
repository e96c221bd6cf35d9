// Command-line parsing shared by the verbs: positional words, --flags and --key value (pure).

export interface Args {
  words: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

/** `valued` names the options that take a value (e.g. "config"); every other --x is a flag. */
export function parseArgs(argv: readonly string[], valued: readonly string[]): Args | string {
  const words: string[] = [];
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      words.push(arg);
      continue;
    }
    const [name = '', inline] = arg.replace(/^--?/, '').split(/=(.*)/s, 2);
    if (valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) return `option --${name} needs a value`;
      values.set(name, value);
    } else if (inline !== undefined) {
      return `option --${name} takes no value`;
    } else {
      flags.add(name);
    }
  }
  return { words, flags, values };
}
