import { z } from 'zod';
import { SLUG_PATTERN, SLUG_RULE } from '../common/names.js';
import { regionCodeSchema } from '../common/regions.js';

export const slug = z.string().regex(SLUG_PATTERN, SLUG_RULE);
export const orgParams = z.object({ org: slug });
export const envParams = orgParams.extend({ env: slug });
export const runParams = envParams.extend({ run: z.uuid() });
export const regionParams = z.object({ region: regionCodeSchema });
