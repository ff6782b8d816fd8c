import { readFile } from 'node:fs/promises';
import { createInterface, type Interface } from 'node:readline';
import { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import type { ApiClient } from '../../cli/client.ts';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatTime, type Output } from '../../cli/output.ts';
import { parseYaml } from '../../lib/config.ts';
import { invalidInput, KeisanError } from '../../lib/errors.ts';
import type { Plan, PlanState, PlanSummary, Step, StepRun } from './model.ts';
import { t } from '../../lib/i18n/index.ts';

const EXAMPLE_PLAN = `title: Kernel update on mgmt1
risk: medium                       # low | medium | high (high needs two approvers)
window: { start: 2026-11-24T08:00:00Z, end: 2026-11-24T12:00:00Z }
targets: [mgmt1]                   # exact inventory host names
runbook: management-recovery       # keisan ops runbooks
steps:
  - kind: manual
    host: mgmt1
    instruction: Fail slurmctld over to mgmt2 (scontrol takeover on mgmt2)
    expect: squeue answers, scontrol ping shows mgmt2 primary
    rollback: scontrol takeover on mgmt1
  - kind: command                  # run by the Keisan agent on the host with sh -c
    host: mgmt1
    command: apt-get -y install linux-image-amd64 && echo kernel-installed
    expect: { exitCode: 0, contains: kernel-installed }
    rollback: boot the previous kernel from the GRUB menu
  - kind: command
    host: mgmt1
    command: systemctl is-active slurmctld
    takesDown: false               # read-only: does not take the host out of service
    expect: { exitCode: 3, matches: "^inactive$" }`;

const stateColour: Record<PlanState, (s: string) => string> = {
  draft: pc.dim,
  'pending-approval': pc.yellow,
  approved: pc.green,
  running: pc.cyan,
  halted: pc.red,
  completed: pc.green,
  cancelled: pc.dim,
};
const runColour: Record<StepRun['state'], (s: string) => string> = { queued: pc.yellow, running: pc.cyan, passed: pc.green, failed: pc.red, cancelled: pc.dim };

const planId = (text: string): number => {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw invalidInput(t('maint.input.is-not-a-plan-id', { text }));
  return Number(text);
};

async function readPlanFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw invalidInput(`--file ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const document = parseYaml(text, file);
  if (document === null || typeof document !== 'object' || Array.isArray(document)) throw invalidInput(t('maint.input.a-plan-is-a-yaml', { file }));
  return document;
}

const what = (step: Step) => (step.kind === 'command' ? `$ ${step.command}` : step.instruction);
const expected = (step: Step) =>
  step.kind === 'manual'
    ? step.expect
    : [`exit ${step.expect.exitCode}`, ...(step.expect.contains !== undefined ? [`contains ${JSON.stringify(step.expect.contains)}`] : []), ...(step.expect.matches !== undefined ? [`matches /${step.expect.matches}/`] : [])].join(', ');

function stepStatus(plan: Plan, index: number): string {
  const runs = plan.runs.filter((r) => r.step === index + 1);
  const last = runs.at(-1);
  if (last) return runColour[last.state](last.state);
  return index + 1 === plan.nextStep && (plan.state === 'running' || plan.state === 'halted') ? pc.cyan('next') : '-';
}

function showSteps(out: Output, plan: Plan): void {
  out.table(
    [t('col.step'), t('col.host'), t('col.kind'), t('col.down'), t('col.what'), t('col.expect'), t('col.rollback'), t('col.status')],
    plan.stepList.map((step, i) => [i + 1, step.host, step.kind, step.takesDown ? 'yes' : 'no', what(step), expected(step), step.rollback || '-', stepStatus(plan, i)]),
  );
}

function showPlan(out: Output, plan: Plan): void {
  out.fields([
    [t('field.plan'), `${plan.id}: ${plan.title}`],
    [t('field.state'), stateColour[plan.state](plan.state) + (plan.haltReason ? ` — ${plan.haltReason}` : '')],
    [t('field.risk'), plan.risk],
    [t('field.window'), `${plan.window.start} → ${plan.window.end} (UTC)`],
    [t('field.targets'), plan.targets.join(', ')],
    [t('field.runbook'), plan.runbook],
    [t('field.author'), plan.author + (plan.editors.length > 1 ? ` (edited by ${plan.editors.slice(1).join(', ')})` : '')],
    [t('field.approvals'), `${plan.approvals} of ${plan.approvalsNeeded} needed`],
    [t('field.hash'), `${plan.hash.slice(0, 16)}… (revision ${plan.revision})`],
    [t('field.started'), plan.startedAt],
    [t('field.finished'), plan.finishedAt],
  ]);
  out.line();
  showSteps(out, plan);
  if (plan.approvalList.length > 0) {
    out.line();
    out.table(
      [t('col.approver'), t('col.at'), t('col.expires'), t('col.valid'), t('col.comment')],
      plan.approvalList.map((a) => [a.approver, a.approvedAt, a.expiresAt, a.valid ? pc.green('yes') : pc.red(`no: ${a.voidReason ?? 'void'}`), a.comment || '-']),
    );
  }
}

function printRun(out: Output, run: StepRun): void {
  if (run.kind === 'command') {
    out.line(pc.dim(`--- output of step ${run.step} on ${run.host} (exit code ${run.exitCode ?? 'none'}${run.timedOut ? ', timed out' : ''})`));
    if (run.output !== '') process.stdout.write(run.output.endsWith('\n') ? run.output : `${run.output}\n`);
    out.line(pc.dim('---'));
  }
  out.line(`${runColour[run.state](run.state === 'passed' ? 'PASSED' : run.state === 'failed' ? 'FAILED' : run.state.toUpperCase())}: ${run.verdict ?? ''}`);
}

/** Lines typed (or piped) on standard input, one per question; a question with stdin at its end is an error. */
class Prompter {
  private readonly lines: string[] = [];
  private readonly waiting: ((line: string | null) => void)[] = [];
  private closed = false;
  private rl: Interface | null = null;

  private open(): void {
    if (this.rl) return;
    this.rl = createInterface({ input: process.stdin, terminal: false });
    this.rl.on('line', (line) => {
      const next = this.waiting.shift();
      if (next) next(line);
      else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.closed = true;
      for (const next of this.waiting.splice(0)) next(null);
    });
  }

  async ask(question: string, missing: string): Promise<string> {
    this.open();
    process.stderr.write(question);
    const queued = this.lines.shift();
    const line = queued !== undefined ? queued : this.closed ? null : await new Promise<string | null>((resolve) => this.waiting.push(resolve));
    if (line === null) {
      process.stderr.write('\n');
      throw invalidInput(missing);
    }
    if (!process.stdin.isTTY) process.stderr.write(`${line}\n`);
    return line.trim();
  }

  close(): void {
    this.rl?.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Follows a command step's run until the agent's result settles it (or `waitMs` passes). */
async function follow(client: ApiClient, out: Output, plan: number, run: StepRun, waitMs: number): Promise<{ run: StepRun; plan: PlanSummary }> {
  const deadline = Date.now() + waitMs;
  let last: { run: StepRun; plan: PlanSummary } | null = null;
  let said = '';
  for (;;) {
    last = await client.request<{ run: StepRun; plan: PlanSummary }>('GET', `/api/ops/maint/plans/${plan}/runs/${run.id}`);
    if (last.run.state !== 'queued' && last.run.state !== 'running') return last;
    const now = last.run.state === 'queued' ? `waiting for the agent on ${run.host} to pick the step up…` : `the agent on ${run.host} is running it…`;
    if (now !== said && !out.json) process.stderr.write(`${pc.dim(now)}\n`);
    said = now;
    if (Date.now() > deadline) {
      throw new KeisanError('UNAVAILABLE', `step ${run.step} of plan ${plan} is still ${last.run.state} after ${Math.round(waitMs / 1000)} s; nothing was given up: follow it with keisan maint steps ${plan}, or run keisan maint run ${plan} again to wait for it`);
    }
    await sleep(1000);
  }
}

export function registerMaintenanceCommands(program: Command): void {
  const maint = new Command('maint').description(t('maint.root'));
  program.addCommand(maint);

  maint
    .command('create')
    .description(t('maint.maint.create'))
    .requiredOption('-f, --file <file>', t('maint.maint.create.opt.file'))
    .addHelpText('after', `\nThe file (YAML):\n${EXAMPLE_PLAN.replace(/^/gm, '  ')}\n${examples('keisan maint create --file mgmt1-kernel.yaml', 'keisan maint submit 7')}`)
    .action(async (options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<Plan>('POST', '/api/ops/maint/plans', await readPlanFile(options.file));
      out.result(plan, () => {
        out.line(t('maint.msg.created-plan-draft-submit-it', { id: plan.id, title: plan.title }));
        out.line();
        showSteps(out, plan);
      });
    });

  maint
    .command('list', { isDefault: true })
    .alias('ls')
    .description(t('maint.maint.list'))
    .option('-s, --state <states>', t('maint.maint.list.opt.state'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<PlanSummary[]>('GET', '/api/ops/maint/plans', undefined, { state: options.state });
      out.result(rows, () =>
        out.table(
          [t('col.id'), t('col.state'), t('col.risk'), t('col.window-utc'), t('col.targets'), t('col.step'), t('col.approvals'), t('col.author'), t('col.title')],
          rows.map((p) => [p.id, stateColour[p.state](p.state), p.risk, `${p.window.start.slice(0, 16)} → ${p.window.end.slice(0, 16)}`, p.targets.join(','), `${Math.min(p.nextStep, p.steps)}/${p.steps}`, `${p.approvals}/${p.approvalsNeeded}`, p.author, p.title]),
          t('maint.empty.maintenance-plans'),
        ),
      );
    });

  maint
    .command('show')
    .description(t('maint.maint.show'))
    .argument('<plan>', t('maint.maint.show.arg.plan'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<Plan>('GET', `/api/ops/maint/plans/${planId(id)}`);
      out.result(plan, () => showPlan(out, plan));
    });

  maint
    .command('steps')
    .description(t('maint.maint.steps'))
    .argument('<plan>', t('maint.maint.steps.arg.plan'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<Plan>('GET', `/api/ops/maint/plans/${planId(id)}`);
      out.result({ steps: plan.stepList, runs: plan.runs }, () => {
        showSteps(out, plan);
        for (const run of plan.runs) {
          out.line();
          out.line(`${pc.bold(`step ${run.step}`)} on ${run.host} by ${run.operator}, ${formatTime(run.queuedAt)}${run.finishedAt ? ` → ${formatTime(run.finishedAt)}` : ''}`);
          printRun(out, run);
        }
      });
    });

  maint
    .command('edit')
    .description(t('maint.maint.edit'))
    .argument('<plan>', t('maint.maint.edit.arg.plan'))
    .option('-f, --file <file>', t('maint.maint.edit.opt.file'))
    .option('-t, --title <title>', t('maint.maint.edit.opt.title'))
    .addHelpText('after', examples('keisan maint edit 7 --file mgmt1-kernel.yaml', 'keisan maint edit 7 --title "Kernel 6.12 on mgmt1"'))
    .action(async (id, options, command) => {
      const out = outputOf(command);
      const body = { ...(options.file ? ((await readPlanFile(options.file)) as Record<string, unknown>) : {}), ...(options.title !== undefined ? { title: options.title } : {}) };
      if (Object.keys(body).length === 0) throw invalidInput(t('maint.input.nothing-to-change-give-file'));
      const plan = await clientOf(command).request<Plan>('PATCH', `/api/ops/maint/plans/${planId(id)}`, body);
      out.result(plan, () =>
        out.line(
          plan.state === 'halted'
            ? `Plan ${plan.id} is now revision ${plan.revision}, still halted at step ${plan.nextStep}: another operator approves it again (keisan maint approve ${plan.id}), then keisan maint run ${plan.id} goes on.`
            : `Plan ${plan.id} is now revision ${plan.revision}, ${plan.state}: submit it again with keisan maint submit ${plan.id}.`,
        ),
      );
    });

  maint
    .command('submit')
    .description(t('maint.maint.submit'))
    .argument('<plan>', t('maint.maint.submit.arg.plan'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<Plan>('POST', `/api/ops/maint/plans/${planId(id)}/submit`);
      out.result(plan, () => out.line(`Plan ${plan.id} is waiting for approval by ${plan.approvalsNeeded === 2 ? 'two operators' : 'an operator'} other than ${plan.editors.join(', ')}.`));
    });

  maint
    .command('approve')
    .description(t('maint.maint.approve'))
    .argument('<plan>', t('maint.maint.approve.arg.plan'))
    .option('-c, --comment <text>', t('maint.maint.approve.opt.comment'))
    .action(async (id, options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<Plan>('POST', `/api/ops/maint/plans/${planId(id)}/approve`, options.comment !== undefined ? { comment: options.comment } : {});
      const mine = plan.approvalList.at(-1);
      out.result(plan, () =>
        out.line(
          plan.state === 'approved'
            ? `Plan ${plan.id} is approved (hash ${plan.hash.slice(0, 16)}…; your approval expires ${mine?.expiresAt ?? '?'}). Run it with keisan maint run ${plan.id}.`
            : `Approval recorded: ${plan.approvals} of ${plan.approvalsNeeded}; plan ${plan.id} needs another operator.`,
        ),
      );
    });

  maint
    .command('reject')
    .description(t('maint.maint.reject'))
    .argument('<plan>', t('maint.maint.reject.arg.plan'))
    .requiredOption('-r, --reason <text>', t('maint.maint.reject.opt.reason'))
    .action(async (id, options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<Plan>('POST', `/api/ops/maint/plans/${planId(id)}/reject`, { reason: options.reason });
      out.result(plan, () => out.line(t('maint.msg.plan-rejected-back-to-draft', { id: plan.id })));
    });

  maint
    .command('cancel')
    .description(t('maint.maint.cancel'))
    .argument('<plan>', t('maint.maint.cancel.arg.plan'))
    .option('-r, --reason <text>', t('maint.maint.cancel.opt.reason'))
    .action(async (id, options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<Plan>('POST', `/api/ops/maint/plans/${planId(id)}/cancel`, options.reason !== undefined ? { reason: options.reason } : {});
      out.result(plan, () => out.line(t('maint.msg.plan-cancelled', { id: plan.id })));
    });

  maint
    .command('run')
    .description(t('maint.maint.run'))
    .argument('<plan>', t('maint.maint.run.arg.plan'))
    .option('--confirm-host <host>', t('maint.maint.run.opt.confirm-host'))
    .option('--result <ok|failed>', t('maint.maint.run.opt.result'))
    .option('--note <text>', t('maint.maint.run.opt.note'))
    .option('--wait <seconds>', t('maint.maint.run.opt.wait'), '900')
    .addHelpText(
      'after',
      `\nWithout --confirm-host it asks, for every step, for the target host's name (and for a manual step whether you saw the expected result).\n${examples('keisan maint run 7', 'keisan maint run 7 --confirm-host mgmt1 --result ok --note "mgmt2 took over"')}`,
    )
    .action(async (id, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const planNumber = planId(id);
      if (options.result !== undefined && options.result !== 'ok' && options.result !== 'failed') throw invalidInput(t('maint.input.result-write-ok-or-failed', { result: options.result }));
      if (options.result !== undefined && options.confirmHost === undefined) throw invalidInput(t('maint.input.result-goes-with-confirm-host'));
      if (!/^\d{1,6}$/.test(options.wait)) throw invalidInput(t('maint.input.wait-give-whole-seconds-e', { wait: options.wait }));
      const waitMs = Number(options.wait) * 1000;
      const prompter = new Prompter();
      const outcomes: StepRun[] = [];
      try {
        let plan = await client.request<Plan>('GET', `/api/ops/maint/plans/${planNumber}`);
        if (plan.state === 'approved') {
          plan = await client.request<Plan>('POST', `/api/ops/maint/plans/${planNumber}/start`);
          if (!out.json) out.line(t('maint.msg.plan-started-steps-window-until', { id: plan.id, title: plan.title, steps: plan.steps, end: plan.window.end }));
        } else if (plan.state !== 'running') {
          throw new KeisanError('CONFLICT', `plan ${plan.id} is ${plan.state}${plan.haltReason ? ` (${plan.haltReason})` : ''}: only an approved or running plan can be run${plan.state === 'halted' ? '; it needs approving again (keisan maint approve)' : ''}`);
        }
        const single = options.confirmHost !== undefined;
        while (plan.state === 'running' && plan.nextStep <= plan.steps) {
          const number = plan.nextStep;
          const step = plan.stepList[number - 1]!;
          let answer: { run: StepRun; plan: PlanSummary };
          const open = plan.runs.find((r) => r.step === number && (r.state === 'queued' || r.state === 'running'));
          if (open) {
            if (!out.json) out.line(t('maint.msg.step-is-already-with-the', { number, host: open.host }));
            answer = await follow(client, out, planNumber, open, waitMs);
          } else {
            if (!out.json) {
              out.line();
              out.line(pc.bold(`Step ${number} of ${plan.steps} on ${step.host} (${step.kind}${step.takesDown ? ', takes it down' : ', read-only'})`));
              out.line(`  ${what(step)}`);
              out.line(`  expect:   ${expected(step)}`);
              out.line(`  rollback: ${step.rollback || '-'}`);
            }
            const host = options.confirmHost ?? (await prompter.ask(`Type the host name of step ${number} to run it: `, `no host name given for step ${number}: type it, or give --confirm-host HOST`));
            let result: string | undefined;
            if (step.kind === 'manual') {
              result = options.result ?? (single ? undefined : await prompter.ask(`Did you observe "${step.expect}"? Type ok or failed: `, `no result given for step ${number}: type ok or failed, or give --result`));
              if (result !== 'ok' && result !== 'failed') throw invalidInput(`step ${number} is a manual step: say ok or failed${single ? ' with --result' : ''}`);
            }
            answer = await client.request<{ run: StepRun; plan: PlanSummary }>('POST', `/api/ops/maint/plans/${planNumber}/steps/${number}`, {
              confirmHost: host,
              ...(result !== undefined ? { result } : {}),
              ...(step.kind === 'manual' && options.note !== undefined ? { note: options.note } : {}),
            });
            if (answer.run.state === 'queued') answer = await follow(client, out, planNumber, answer.run, waitMs);
          }
          outcomes.push(answer.run);
          if (!out.json) printRun(out, answer.run);
          plan = await client.request<Plan>('GET', `/api/ops/maint/plans/${planNumber}`);
          if (single) break;
        }
        out.result({ plan, runs: outcomes }, () => {
          out.line();
          if (plan.state === 'completed') out.line(pc.green(t('maint.msg.plan-completed-every-step-gave', { id: plan.id })));
          else if (plan.state === 'running') out.line(t('maint.msg.plan-is-running-next-is', { id: plan.id, nextStep: plan.nextStep, steps: plan.steps }));
        });
        if (plan.state === 'halted') {
          throw new KeisanError('CONFLICT', `plan ${plan.id} HALTED: ${plan.haltReason ?? 'a step did not give its expected result'}. Roll back as the step says if needed; the plan needs approving again to go on (keisan maint approve ${plan.id} by another operator, then keisan maint run ${plan.id})`);
        }
      } finally {
        prompter.close();
      }
    });
}
