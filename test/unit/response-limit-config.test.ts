import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RESPONSE_LIMIT_BYTES,
  environmentWorkerSettingsSchema,
  loadRegionHostConfig,
} from '../../common/config.js';

const host = {
  TAVIO_REGION: 'ca',
  TAVIO_HOST_KEY: 'tav_host_x',
  TAVIO_GATEWAY_PASSWD_FILE: '/run/gateway/passwd',
};

describe('the response limit setting', () => {
  it('defaults to 4 MiB and is taken from TAVIO_RESPONSE_LIMIT_BYTES', () => {
    expect(DEFAULT_RESPONSE_LIMIT_BYTES).toBe(4 * 1024 * 1024);
    expect(loadRegionHostConfig(host).responseLimitBytes).toBe(DEFAULT_RESPONSE_LIMIT_BYTES);
    expect(loadRegionHostConfig({ ...host, TAVIO_RESPONSE_LIMIT_BYTES: '65536' }).responseLimitBytes).toBe(
      65536,
    );
  });

  it.each(['10', '1073741824', 'lots'])('refuses %j', (value) => {
    expect(() => loadRegionHostConfig({ ...host, TAVIO_RESPONSE_LIMIT_BYTES: value })).toThrow(
      /responseLimitBytes/,
    );
  });

  it("is part of every worker's settings, with the same bounds", () => {
    expect(environmentWorkerSettingsSchema.shape.responseLimitBytes.safeParse(undefined).success).toBe(false);
    expect(environmentWorkerSettingsSchema.shape.responseLimitBytes.safeParse(10).success).toBe(false);
    expect(environmentWorkerSettingsSchema.shape.responseLimitBytes.safeParse(65536).success).toBe(true);
  });
});
