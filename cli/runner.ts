import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { contextOf } from './context.js';
import type { Context, Io } from './context.js';
import type { ExitCode } from './errors.js';

/** A command's work: its context, its positional arguments and its own options. */
export type Handler<O> = (ctx: Context, args: Array<string | undefined>, options: O) => Promise<void>;

/** Turns a handler into a commander action. */
export type Runner = <O = Record<string, never>>(
  handler: Handler<O>,
) => (...params: unknown[]) => Promise<void>;

/** What an invocation ends with: its exit code, and the context of the command that ran. */
export interface Invocation {
  exitCode: ExitCode;
  context?: Context;
}

export function createRunner(io: Io, invocation: Invocation): Runner {
  return <O>(handler: Handler<O>) =>
    async (...params: unknown[]) => {
      // commander calls an action with the arguments, then the options, then the command.
      const command = params.at(-1) as Command;
      const options = params.at(-2) as O;
      const args = params.slice(0, -2) as Array<string | undefined>;
      invocation.context = contextOf(command, io, (code) => {
        invocation.exitCode = code;
      });
      await handler(invocation.context, args, options);
    };
}

/** Parses an option's value as a whole number; commander reports anything else (exit 2). */
export function wholeNumber(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number)) throw new InvalidArgumentError('a whole number');
  return number;
}
