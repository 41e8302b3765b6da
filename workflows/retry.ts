import { FailureType } from '../common/failures.js';

/** How every activity of Tavio's workflows is retried: with backoff, except failures that a retry cannot change. */
export const RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: Object.values(FailureType),
};
