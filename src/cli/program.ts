import { Command, CommanderError, Help } from '@commander-js/extra-typings';
import { KeisanError } from '../lib/errors.ts';
import { chooseLanguage, language, setLanguage, t, translate, type Language, type MessageKey } from '../lib/i18n/index.ts';
import { KEISAN_VERSION } from '../lib/version.ts';
import { displayWidth, EXIT_FAILED, EXIT_OK, EXIT_USAGE, exitCodeFor, printError } from './output.ts';

/** The root of the `keisan` command tree with its global options; rooms add their commands. */
export function newProgram(): Command {
  return new Command()
    .name('keisan')
    .description(t('cli.description'))
    .version(KEISAN_VERSION, '-V, --version', t('cli.opt.version'))
    .option('--server <url>', t('cli.opt.server'))
    .option('--json', t('cli.opt.json'))
    .showHelpAfterError(t('cli.help.after-error'))
    .showSuggestionAfterError(true)
    .configureHelp(localizedHelp())
    .configureOutput({ outputError: (text, write) => write(localizeCommanderMessage(text, language())) })
    .exitOverride();
}

/**
 * Every subcommand reports usage errors through the same exit path, and shows help and
 * commander's errors in the CLI's language (commands made with `new Command` and added later
 * do not inherit the root's settings, so they are passed down here).
 */
export function overrideExits(command: Command): void {
  for (const sub of command.commands) {
    sub.exitOverride().showHelpAfterError(t('cli.help.after-error')).configureHelp(command.configureHelp()).configureOutput(command.configureOutput());
    overrideExits(sub as unknown as Command);
  }
}

const HELP_TITLES: Record<string, MessageKey> = {
  'Usage:': 'cli.help.usage',
  'Arguments:': 'cli.help.arguments',
  'Options:': 'cli.help.options',
  'Commands:': 'cli.help.commands',
  'Global Options:': 'cli.help.global-options',
};

/** Commander's help with its headings and built-in texts (the help option and command) translated. */
function localizedHelp(): Partial<Help> {
  return {
    styleTitle: (title: string) => (HELP_TITLES[title] ? t(HELP_TITLES[title]) : title),
    optionDescription(this: Help, option) {
      return option.long === '--help' ? t('cli.opt.help') : Help.prototype.optionDescription.call(this, option).replace('(default: ', `(${t('cli.help.default')}: `);
    },
    argumentDescription(this: Help, argument) {
      return Help.prototype.argumentDescription.call(this, argument).replace('(default: ', `(${t('cli.help.default')}: `);
    },
    // Japanese has no spaces to wrap at and takes two columns a character.
    displayWidth: (text: string) => displayWidth(text.replace(ANSI_STYLE, '')),
    boxWrap(this: Help, text: string, width: number) {
      return /[\u3000-\u9fff\uff00-\uffef]/u.test(text) ? wrapWide(text, width, (chunk) => this.displayWidth(chunk)) : Help.prototype.boxWrap.call(this, text, width);
    },
    subcommandDescription(this: Help, command) {
      // `help` is the implicit `help [command]` that commander adds to each group (no room has one).
      return command.name() === 'help' ? t('cli.help.command') : Help.prototype.subcommandDescription.call(this, command);
    },
  };
}

// eslint-disable-next-line no-control-regex
const ANSI_STYLE = /\x1b\[[0-9;]*m/g;
/** A chunk that may start a line: a word of ASCII, or one CJK character with any opening brackets before it and closing punctuation after it. */
const WRAP_CHUNK = /\s*[（「『【]*(?:[^\s\u3000-\u9fff\uff00-\uffef]+|[\u3000-\u9fff\uff00-\uffef])[、。，．）」』】：！？…ーぁぃぅぇぉっゃゅょァィゥェォッャュョ]*/gu;

/** `text` wrapped to `width` columns, breaking between words and between CJK characters. */
export function wrapWide(text: string, width: number, widthOf: (chunk: string) => number = displayWidth): string {
  return text
    .split(/\r?\n/)
    .map((line) => {
      const lines: string[] = [];
      let current = '';
      for (const chunk of line.match(WRAP_CHUNK) ?? []) {
        if (current !== '' && widthOf(current) + widthOf(chunk) > width) {
          lines.push(current);
          current = chunk.trimStart();
        } else current += chunk;
      }
      lines.push(current);
      return lines.join('\n');
    })
    .join('\n');
}

const COMMANDER_ERRORS: [RegExp, MessageKey, string[]][] = [
  [/^error: unknown command '([^']*)'/, 'cli.commander.unknown-command', ['name']],
  [/^error: unknown option '([^']*)'/, 'cli.commander.unknown-option', ['name']],
  [/^error: missing required argument '([^']*)'/, 'cli.commander.missing-argument', ['name']],
  [/^error: option '([^']*)' argument missing/, 'cli.commander.option-argument-missing', ['name']],
  [/^error: required option '([^']*)' not specified/, 'cli.commander.required-option', ['name']],
  [/^error: too many arguments[^.]*\. Expected (\d+) arguments? but got (\d+)\./, 'cli.commander.too-many-arguments', ['expected', 'got']],
  [/^error: /, 'cli.commander.error', []],
];

/** Commander's own error lines (`error: unknown command 'x'`, `(Did you mean y?)`) in `lang`; English stays as commander wrote it. */
export function localizeCommanderMessage(text: string, lang: Language): string {
  if (lang === 'en') return text;
  let result = text;
  for (const [pattern, key, names] of COMMANDER_ERRORS) {
    const match = pattern.exec(result);
    if (match) {
      const params = Object.fromEntries(names.map((name, i) => [name, match[i + 1] ?? '']));
      result = translate(lang, key, params) + result.slice(match[0].length);
      break;
    }
  }
  return result.replace(/\(Did you mean (?:one of )?(.+)\?\)/, (_whole, names: string) => translate(lang, 'cli.commander.did-you-mean', { names }));
}

/**
 * The language of this run: the environment's (chooseLanguage), but English with --json, so
 * that what scripts read (errors included) never changes with the language.
 */
export function languageForRun(argv: readonly string[], env: NodeJS.ProcessEnv): Language {
  return argv.includes('--json') ? 'en' : chooseLanguage(env);
}

export function useLanguageForRun(argv: readonly string[]): void {
  setLanguage(languageForRun(argv, process.env));
}

/** Parses and runs `argv`, printing errors; returns the exit code. */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  // `keisan jobs | head`: a reader that stops early is not an error (as with any Unix tool).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      // A bare group such as `keisan admin` shows its help (exit code 1 from commander) and counts
      // as bad usage; `keisan help` asked for it.
      if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return EXIT_USAGE;
    }
    printError(error, json);
    return error instanceof KeisanError ? exitCodeFor(error) : EXIT_FAILED;
  }
}
