import { inject } from 'vitest';
import { loadControlApiConfig } from '../../common/config.js';
import { startControlApi } from '../../control-api/platform.js';
import type { ControlApi } from '../../control-api/platform.js';
import { stackEnv } from '../../scripts/platform.js';

/**
 * Another control API, in the test's process, over the platform's stack and database: on a free
 * port, without a Web UI gateway, with the platform's operator key unless `settings` say otherwise.
 * The caller closes it.
 */
export function startOtherControlApi(settings: Record<string, string> = {}): Promise<ControlApi> {
  return startControlApi(
    loadControlApiConfig({
      ...stackEnv(inject('stack')),
      TAVIO_API_PORT: '0',
      TAVIO_WEB_UI_PORT: '',
      TAVIO_OPERATOR_KEY: inject('operatorKey'),
      ...settings,
    }),
  );
}
