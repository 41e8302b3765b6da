import { z } from 'zod';

/**
 * What a region host hands an environment worker over its IPC channel, never through the
 * environment, argv or a file: short-lived AWS credentials of the environment's data-plane role and
 * a Temporal token for the environment's namespace. The first message carries both; refreshes
 * carry whichever was renewed.
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

export const workerSecretsSchema = z
  .object({ credentials: dataplaneCredentialsSchema.optional(), temporal: temporalTokenSchema.optional() })
  .strict();
export type WorkerSecrets = z.infer<typeof workerSecretsSchema>;

export const initialWorkerSecretsSchema = workerSecretsSchema.required();
export type InitialWorkerSecrets = z.infer<typeof initialWorkerSecretsSchema>;
