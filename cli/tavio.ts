#!/usr/bin/env node
import { runCli } from './program.js';

/** The `tavio` command: `tavio --help` lists the commands, options and exit codes. */

// A reader that went away (`tavio runs logs ... | head`) ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
