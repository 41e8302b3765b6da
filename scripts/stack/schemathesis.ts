import { isExecutable } from './process.js';
import { type Report, type StackPaths } from './config.js';
import type { Outcome } from './managed.js';
import { pythonTool, pythonToolPath, type PythonTool } from './python-tools.js';

/** Schemathesis, which fuzzes the control API from its OpenAPI document in the tests. */
export const SCHEMATHESIS_VERSION = '4.32.5';
const SCHEMATHESIS: PythonTool = {
  requirement: `schemathesis==${SCHEMATHESIS_VERSION}`,
  folder: `schemathesis-${SCHEMATHESIS_VERSION}`,
  command: 'schemathesis',
  name: 'schemathesis',
};

export const schemathesisPath = (paths: StackPaths): string => pythonToolPath(paths, SCHEMATHESIS);

export async function ensureSchemathesis(paths: StackPaths, report: Report): Promise<Outcome> {
  if (isExecutable(schemathesisPath(paths))) return 'reused';
  await pythonTool(paths, SCHEMATHESIS, report);
  return 'started';
}
