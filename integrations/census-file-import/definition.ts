import { z } from 'zod';
import type { ConnectionKind } from '../../common/connections.js';
import { sourceFileOptions } from '../sftp-file-transfer/definition.js';
import { CENSUS_FIELDS, DEFAULT_CENSUS_MAPPING } from './types.js';

/** Printable column names, each column used by one field. */
const censusMappingSchema = z
  .object(
    Object.fromEntries(
      CENSUS_FIELDS.map((field) => [
        field,
        z
          .string()
          .min(1)
          .max(128)
          .regex(/^\P{Cc}+$/u),
      ]),
    ) as Record<(typeof CENSUS_FIELDS)[number], z.ZodString>,
  )
  .strict()
  .refine((mapping) => new Set(Object.values(mapping)).size === CENSUS_FIELDS.length, {
    message: 'each field needs a column of its own',
  });

export const censusImportOptionsSchema = z
  .object({
    ...sourceFileOptions,
    /** Employees per request to the destination. */
    pageSize: z.number().int().min(1).max(500).default(100),
    /** Which column each canonical field is read from. */
    mapping: censusMappingSchema.default({ ...DEFAULT_CENSUS_MAPPING }),
  })
  .strict();

/** census-file-import in the catalog: a census CSV from SFTP to an upsert API, row by row. */
export const censusFileImportDefinition = {
  workflowType: 'censusFileImport',
  connections: { source: 'sftp', destination: 'upsert-rest' } as Record<string, ConnectionKind>,
  options: censusImportOptionsSchema,
};
