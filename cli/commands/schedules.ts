import type { Command } from 'commander';
import type { Schedule } from '../../control-api/client.js';
import { printFields, printTable, show } from '../output.js';
import type { Output } from '../output.js';
import type { Runner } from '../runner.js';

const timing = (s: Schedule) =>
  `${s.cron ? `cron ${s.cron}` : `every ${s.intervalSeconds} s`} (${s.timeZone})`;

function showSchedule(out: Output, s: Schedule): void {
  printFields(out, {
    schedule: s.id,
    name: s.name,
    integration: s.integration,
    timing: timing(s),
    overlap: s.overlapPolicy,
    paused: s.paused,
    'web UI': s.webUiUrl,
  });
}

/** `tavio schedules list|get|pause|resume|trigger`. */
export function registerSchedules(program: Command, run: Runner): void {
  const schedules = program.command('schedules').description("an environment's schedules of runs");

  schedules
    .command('list')
    .description("the environment's schedules")
    .action(
      run(async (ctx) => {
        const list = await ctx.client().listSchedules(ctx.org(), ctx.env());
        show(ctx, list, (rows) =>
          printTable(ctx, rows, {
            id: (s) => s.id,
            name: (s) => s.name,
            integration: (s) => s.integration,
            timing,
            paused: (s) => s.paused,
          }),
        );
      }),
    );

  schedules
    .command('get')
    .description("a schedule, with Temporal's view of it")
    .argument('<schedule-id>', 'the schedule')
    .action(
      run(async (ctx, [id]) => {
        const schedule = await ctx.client().getSchedule(ctx.org(), ctx.env(), id!);
        show(ctx, schedule, (s) => {
          showSchedule(ctx, s);
          if (s.temporal) printFields(ctx, { 'next runs': s.temporal.nextActionTimes.join(', ') || '-' });
        });
      }),
    );

  for (const [name, description] of [
    ['pause', 'pause a schedule'],
    ['resume', 'resume a paused schedule'],
  ] as const) {
    schedules
      .command(name)
      .description(description)
      .argument('<schedule-id>', 'the schedule')
      .option('--note <note>', "why, kept in Temporal's schedule")
      .action(
        run<{ note?: string }>(async (ctx, [id], options) => {
          const client = ctx.client();
          const [org, env] = [ctx.org(), ctx.env()];
          const schedule =
            name === 'pause'
              ? await client.pauseSchedule(org, env, id!, options.note)
              : await client.resumeSchedule(org, env, id!, options.note);
          show(ctx, schedule, (s) => showSchedule(ctx, s));
        }),
      );
  }

  schedules
    .command('trigger')
    .description('start a run of the schedule now, under its overlap policy')
    .argument('<schedule-id>', 'the schedule')
    .action(
      run(async (ctx, [id]) => {
        const triggered = await ctx.client().triggerSchedule(ctx.org(), ctx.env(), id!);
        show(ctx, triggered, (t) =>
          ctx.stdout.write(`schedule ${t.scheduleId} triggered at ${t.triggeredAt}\n`),
        );
      }),
    );
}
