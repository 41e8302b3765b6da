import proto from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import type { environments, runs } from '../db/schema.js';
import type { RunSummary } from '../integrations/catalog.js';
import type { RegionRegistry } from '../common/regions.js';
import { gatewayEgress } from './gateway-log.js';

type Env = typeof environments.$inferSelect;
type RunRow = typeof runs.$inferSelect;

/** Where a run happened, kept as metadata with the run once it closes. */
export interface ResidencyRecord {
  runId: string;
  workflowId: string;
  namespace: string;
  region: string;
  gateway: string;
  taskQueue: string;
  /** Region hosts whose environment workers ran its workflow and activity tasks. */
  workerHosts: string[];
  storage: { bucket: string; awsRegion: string };
  key: { arn: string | null; awsRegion: string | null };
  /**
   * Requests the run sent, by host. `gateway`: counted from the region gateway's own log (every
   * request it carried for the environment's proxy user naming the run, retried and failed attempts
   * included); `worker`: as the workers reported them with completed pages, where no gateway log is
   * configured (null until the run completes).
   */
  egress: { source: 'gateway' | 'worker'; requests: number; hosts: Record<string, number> } | null;
  final: boolean;
}

/** The identities of the workers that started any task of any execution of the workflow. */
async function workerIdentities(client: Client, workflowId: string): Promise<string[]> {
  const identities = new Set<string>();
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    for (const event of history.events ?? []) {
      const identity =
        event.activityTaskStartedEventAttributes?.identity ??
        event.workflowTaskStartedEventAttributes?.identity;
      if (identity) identities.add(identity);
    }
  }
  return [...identities];
}

export async function buildResidency(
  client: Client,
  regions: RegionRegistry,
  env: Env,
  row: RunRow,
  final: boolean,
): Promise<ResidencyRecord> {
  const summary = row.summary as RunSummary | null;
  const hostIds = (await workerIdentities(client, row.workflowId)).map(
    (identity) => identity.split('/')[0] ?? identity,
  );
  const logFile = regions[env.region].gatewayLogFile;
  const logged = logFile ? await gatewayEgress(logFile, env.id, row.workflowId, row.createdAt) : undefined;
  const egress = logged
    ? { source: 'gateway' as const, hosts: logged }
    : summary && 'egress' in summary && summary.egress
      ? { source: 'worker' as const, hosts: summary.egress }
      : null;
  return {
    runId: row.id,
    workflowId: row.workflowId,
    namespace: env.namespace,
    region: env.region,
    gateway: regions[env.region].gateway,
    taskQueue: regions[env.region].taskQueue,
    workerHosts: [...new Set(hostIds)].sort(),
    storage: { bucket: env.bucket, awsRegion: env.awsRegion },
    key: { arn: env.keyArn, awsRegion: env.keyArn?.split(':')[3] ?? null },
    egress: egress && {
      source: egress.source,
      requests: Object.values(egress.hosts).reduce((a, b) => a + b, 0),
      hosts: egress.hosts,
    },
    final,
  };
}

/** Whether any worker polls the environment's namespace on its region's queue right now. */
export async function workerPolling(client: Client, namespace: string, taskQueue: string): Promise<boolean> {
  const answer = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: proto.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (answer.pollers ?? []).length > 0;
}
