import { Command, CommanderError } from 'commander';
import { registerConnections } from './commands/connections.js';
import { registerEnvironments } from './commands/environments.js';
import { registerKeys } from './commands/keys.js';
import { registerOrganizations } from './commands/organizations.js';
import { registerRuns } from './commands/runs.js';
import { registerSchedules } from './commands/schedules.js';
import { DEFAULT_API_URL } from './config.js';
import type { Io } from './context.js';
import { describeFailure, EXIT, problemOf } from './errors.js';
import type { ExitCode } from './errors.js';
import { printJson } from './output.js';
import { createRunner } from './runner.js';
import type { Invocation } from './runner.js';
import { refuseSecretsOnArgv } from './secrets.js';

const EXIT_CODES = `
Exit codes:
  0  done; for runs start --wait and runs wait: the run completed
  1  the API answered a problem (shown as error: <title>: <detail> (<type>)) or could not be reached
  2  usage: an unknown command or option, a missing argument, a secret on the command line
  3  the run failed
  4  the run was canceled, terminated or timed out
  5  --timeout passed while the run was still running`;

/** The `tavio` command tree; `invocation` receives the exit code and context of the command run. */
export function buildProgram(io: Io, invocation: Invocation): Command {
  const program = new Command('tavio')
    .description('Tavio from a terminal: organizations, environments, keys, connections and runs')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .option('--api-url <url>', `the control API (default: TAVIO_API_URL, else ${DEFAULT_API_URL})`)
    .option('--api-key-file <path>', 'a file holding the API key (default: TAVIO_API_KEY; never on argv)')
    .option('-o, --org <slug>', 'the organization (default: TAVIO_ORG)')
    .option('-e, --env <slug>', 'the environment (default: TAVIO_ENV)')
    .option('--json', 'machine-readable output: JSON, or JSON lines while following a run')
    .addHelpText('after', EXIT_CODES);
  const run = createRunner(io, invocation);
  registerOrganizations(program, run);
  registerEnvironments(program, run);
  registerKeys(program, run);
  registerConnections(program, run);
  registerRuns(program, run);
  registerSchedules(program, run);
  return program;
}

/** Runs one command line (without the node and script arguments) and answers its exit code. */
export async function runCli(args: string[], io: Io): Promise<ExitCode> {
  const invocation: Invocation = { exitCode: EXIT.ok };
  try {
    refuseSecretsOnArgv(args);
    await buildProgram(io, invocation).parseAsync(args, { from: 'user' });
    return invocation.exitCode;
  } catch (error) {
    // commander has written its own message (or the help) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const context = invocation.context;
    const { line, code } = describeFailure(error, context?.config.apiUrl ?? 'the configured URL');
    io.stderr.write(`${line}\n`);
    const problem = problemOf(error);
    if (problem && context?.json) printJson(context, { type: 'problem', problem }, true);
    return code;
  }
}
