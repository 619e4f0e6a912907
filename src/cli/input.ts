/**
 * Secrets typed by the operator (passwords, client secrets): standard input when it is not a
 * terminal (or when asked to), else a prompt that does not echo. Never from the command line (it
 * would show in `ps` and in the shell history).
 */
import { CliError } from './errors.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    process.stderr.write(prompt);
    const finish = (err?: Error) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new CliError('cancelled'));
        if (ch === '\u0004') return value === '' ? finish(new CliError('cancelled')) : finish();
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

export interface SecretPrompt {
  /** Read standard input even when it is a terminal (--password-stdin). */
  fromStdin?: boolean | undefined;
  /** What the prompt asks for, e.g. "Password for 'alice'". */
  prompt: string;
  /** What the secret is, for the messages: "password", "client secret". */
  what?: string;
  /** Ask twice and compare (when the secret is being set, not when it is presented). */
  confirm?: boolean;
}

/** One secret: the single line on standard input (one trailing newline dropped), or typed at a no-echo prompt. */
export async function readSecret({ fromStdin, prompt, what = 'password', confirm = false }: SecretPrompt): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const text = (await readStdin()).replace(/\r?\n$/, '');
    if (text === '') throw new CliError(`no ${what} on standard input (pipe it in, or run on a terminal to be prompted)`);
    if (/[\r\n]/.test(text)) throw new CliError(`the ${what} on standard input must be a single line`);
    return text;
  }
  const secret = await promptHidden(`${prompt}: `);
  if (secret === '') throw new CliError(`no ${what} given`);
  if (confirm && (await promptHidden('Repeat it: ')) !== secret) throw new CliError(`the ${what}s do not match`);
  return secret;
}
