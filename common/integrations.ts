import { z } from 'zod';

/** Connection kinds Tavio knows how to talk to. */
export const CONNECTION_KINDS = ['hris-rest', 'upsert-rest'] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

/** Credential shapes per connection kind; validated before they are sealed. */
export const credentialSchemas = {
  'hris-rest': z.object({ apiKey: z.string().min(8).max(512) }).strict(),
  'upsert-rest': z.object({ token: z.string().min(8).max(512) }).strict(),
} satisfies Record<ConnectionKind, z.ZodType>;

export const hrisSyncOptionsSchema = z
  .object({
    pageSize: z.number().int().min(1).max(500).default(100),
    // Up to 200 pages per activity, a few events each: 500 pages keep a history to a few dozen
    // events. Fewer makes executions that end within a second, and Temporal holds back the first
    // task of a run that follows one sooner than its minimal interval (1 s by default).
    pagesPerExecution: z.number().int().min(1).max(1000).default(500),
  })
  .strict();

/** The integrations shipped in code: each a workflow type with the connection roles it needs. */
export const INTEGRATIONS = {
  'hris-employee-sync': {
    workflowType: 'hrisEmployeeSync',
    connections: { source: 'hris-rest', destination: 'upsert-rest' } as Record<string, ConnectionKind>,
    options: hrisSyncOptionsSchema,
  },
} as const;
export type IntegrationName = keyof typeof INTEGRATIONS;

export function isIntegration(name: string): name is IntegrationName {
  return Object.hasOwn(INTEGRATIONS, name);
}
