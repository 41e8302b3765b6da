import { proxyActivities } from '@temporalio/workflow';

const { touch } = proxyActivities<{ touch(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

/** The bare baseline of P2: a trivial workflow whose only work is one activity. */
export async function bare(): Promise<void> {
  await touch();
}
