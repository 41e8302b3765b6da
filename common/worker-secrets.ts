import { z } from 'zod';
import { temporalClientSecretsSchema } from './temporal-connection.js';

/**
 * What a region host hands an environment worker over its IPC channel, never through the
 * environment, argv or a file: short-lived AWS credentials of the environment's data-plane role, a
 * Temporal token for the environment's namespace, the environment's payload data key, and its
 * credentials at the region's gateway. The first message carries all four; refreshes carry
 * whichever was renewed.
 */
export const dataplaneCredentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1),
  expiration: z.iso.datetime(),
});
export type DataplaneCredentials = z.infer<typeof dataplaneCredentialsSchema>;

/** A Temporal token as the control API issues it (also the body of its token answers). */
export const temporalTokenSchema = z.object({ token: z.string().min(1), expiresAt: z.iso.datetime() });
export type TemporalToken = z.infer<typeof temporalTokenSchema>;

/** The environment's Temporal payload data key (AES-256, base64), as the control API hands it to the host. */
export const payloadKeySchema = z.object({ id: z.uuid(), key: z.base64() });
export type PayloadKeyMessage = z.infer<typeof payloadKeySchema>;

/** The worker's credentials at its region's gateway: its environment's proxy user, rotated by the host. */
export const proxyCredentialsSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  expiresAt: z.iso.datetime(),
});
export type ProxyCredentials = z.infer<typeof proxyCredentialsSchema>;

export const workerSecretsSchema = z
  .object({
    credentials: dataplaneCredentialsSchema.optional(),
    temporal: temporalTokenSchema.optional(),
    payloadKey: payloadKeySchema.optional(),
    proxy: proxyCredentialsSchema.optional(),
    /** The Temporal client certificate's key and static API key, when the deployment has them; first message only. */
    temporalClient: temporalClientSecretsSchema.optional(),
  })
  .strict();
export type WorkerSecrets = z.infer<typeof workerSecretsSchema>;

export const initialWorkerSecretsSchema = workerSecretsSchema.required({
  credentials: true,
  temporal: true,
  payloadKey: true,
  proxy: true,
});
export type InitialWorkerSecrets = z.infer<typeof initialWorkerSecretsSchema>;
