import { join } from 'node:path';
import { StackError, displayPath, type Report, type StackPaths } from './config.js';
import { findOnPath, isExecutable, runOrFail } from './process.js';

/** A command-line tool from PyPI, kept in a virtualenv of its own in the tool cache, by version. */
export interface PythonTool {
  /** The PyPI requirement, pinned: `moto[server]==5.2.5`. */
  requirement: string;
  /** The virtualenv's folder name in the cache: `moto-5.2.5`. */
  folder: string;
  /** The command the package installs: `moto_server`. */
  command: string;
  /** What the tool is for, in progress lines: `moto`. */
  name: string;
}

export const pythonToolPath = (paths: StackPaths, tool: PythonTool): string =>
  join(paths.cacheDir, tool.folder, 'bin', tool.command);

/** The tool's command, installed into its virtualenv first when it is missing. */
export async function pythonTool(paths: StackPaths, tool: PythonTool, report: Report): Promise<string> {
  const venv = join(paths.cacheDir, tool.folder);
  const command = pythonToolPath(paths, tool);
  if (isExecutable(command)) return command;
  const logFile = join(paths.logsDir, `${tool.name}-install.log`);
  if (!isExecutable(join(venv, 'bin', 'pip'))) {
    const python = findOnPath('python3');
    if (python === undefined) {
      throw new StackError(
        `${tool.name}: python3 not found; install Python 3 with venv support (Debian: sudo apt-get install -y python3 python3-venv) and run this again`,
      );
    }
    report(`${tool.name}: creating a Python virtualenv in ${venv}...`);
    await runOrFail(
      `${tool.name}: python3 -m venv (on Debian this needs the python3-venv package)`,
      python,
      ['-m', 'venv', venv],
      { logFile },
    );
  }
  report(
    `${tool.name}: installing ${tool.requirement} from PyPI into ${venv} (about a minute, log ${displayPath(logFile)})...`,
  );
  await runOrFail(`${tool.name}: pip install`, join(venv, 'bin', 'pip'), ['install', tool.requirement], {
    logFile,
  });
  if (!isExecutable(command))
    throw new StackError(`${tool.name}: pip install finished but ${command} is missing; see ${logFile}`);
  return command;
}
