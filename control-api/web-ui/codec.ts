import type { FastifyInstance, FastifyRequest } from 'fastify';
import proto from '@temporalio/proto';
import { z } from 'zod';
import { PayloadEncryptionCodec } from '../../common/payload-encryption.js';
import type { PayloadKeys } from '../payload-keys.js';
import { forbidden, unprocessable } from '../problems.js';
import { SYSTEM_NAMESPACE, permission } from '../temporal-auth/tokens.js';

const CODEC_BODY_LIMIT = 4 * 1024 * 1024;
const { Payload } = proto.temporal.api.common.v1;

const codecBody = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
    .max(1000),
});

/**
 * The codec endpoint the Web UI calls from the browser (`/codec/decode`, `/codec/encode`, with the
 * namespace in `X-Namespace`): it opens payloads for a signed-in person whose session covers that
 * namespace, and refuses everyone else, so only Temporal's database and the wire hold ciphertext.
 */
export function installCodec(
  app: FastifyInstance,
  payloadKeys: PayloadKeys,
  permissionsOf: (request: FastifyRequest) => readonly string[],
): void {
  for (const direction of ['decode', 'encode'] as const) {
    app.post(`/codec/${direction}`, { bodyLimit: CODEC_BODY_LIMIT }, async (request) => {
      const namespace = request.headers['x-namespace'];
      if (typeof namespace !== 'string' || namespace === '')
        throw unprocessable('missing-namespace', 'send the namespace in the X-Namespace header');
      const granted = permissionsOf(request);
      if (
        !granted.includes(permission(namespace, 'read')) &&
        !granted.includes(permission(SYSTEM_NAMESPACE, 'admin'))
      )
        throw forbidden(`this session does not cover namespace ${namespace}`);
      const body = codecBody.safeParse(request.body);
      if (!body.success)
        throw unprocessable('invalid-payloads', 'send {"payloads": [{"metadata": {...}, "data": "..."}]}');
      const codec = new PayloadEncryptionCodec(namespace, payloadKeys.ringOf(namespace));
      const payloads = body.data.payloads.map((payload) => Payload.fromObject(payload));
      const result = await codec[direction](payloads);
      return {
        payloads: result.map((payload) => Payload.toObject(Payload.create(payload), { bytes: String })),
      };
    });
  }
}
