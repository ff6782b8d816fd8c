import { z } from 'zod';

/**
 * The body of `POST /api/jobs`. The CLI sends the script's text and its options as the user
 * typed them; the server parses both (directives and options) in one place.
 */
const text = (max: number) => z.string().max(max).refine((s) => !s.includes('\0'), 'must not contain NUL characters');

export const submitOptions = z
  .object({
    queue: text(64).optional(),
    cpus: z.union([z.number().int(), text(16)]).optional(),
    mem: text(32).optional(),
    gpus: text(64).optional(),
    time: text(32).optional(),
    name: text(200).optional(),
    array: text(200).optional(),
    after: z.array(text(64)).max(100).optional(),
    output: text(4096).optional(),
    error: text(4096).optional(),
    chdir: text(4096).optional(),
    mail: text(64).optional(),
    mailUser: text(254).optional(),
    begin: text(64).optional(),
    hold: z.boolean().optional(),
  })
  .strict();
export type SubmitOptions = z.infer<typeof submitOptions>;

export const submitInput = z
  .object({
    script: text(1_048_576),
    /** Where the script came from, for the default job name. */
    scriptPath: text(4096).optional(),
    args: z.array(text(100_000)).max(1000).default([]),
    submitDir: text(4096).regex(/^\//, 'submitDir must be an absolute path'),
    /** Variables the job gets besides the SLURM/LSF/KEISAN ones (`--env KEY=VALUE`). */
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _'), text(100_000)).optional(),
    /**
     * The submitter's environment, exported to the job as sbatch does by default
     * (`--export=NONE` or LSF scripts without -env keep only what they name).
     */
    environment: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _').max(256), text(131_072))
      .refine((env) => Object.keys(env).length <= 4096, 'at most 4096 environment variables')
      .optional(),
    options: submitOptions.default({}),
  })
  .strict();
export type SubmitInput = z.infer<typeof submitInput>;

export const submitResultSchema = z.object({
  jobs: z.array(z.number().int()),
  arrayJobId: z.number().int().nullable(),
  queue: z.string(),
  warnings: z.array(z.string()),
});
export type SubmitResult = z.infer<typeof submitResultSchema>;

/** `POST /api/jobs/preview`: what a submission would become (nothing is stored). */
export const submissionPreviewSchema = z.object({
  name: z.string(),
  queue: z.string(),
  workgroup: z.string(),
  subgroup: z.string(),
  cpus: z.number().int(),
  ntasks: z.number().int(),
  cpusPerTask: z.number().int(),
  memBytes: z.number(),
  gpus: z.number().int(),
  gpuType: z.string().nullable(),
  timeLimitMs: z.number(),
  eligibleAt: z.string().nullable(),
  held: z.boolean(),
  dependencies: z.array(z.object({ jobId: z.number().int(), type: z.enum(['ok', 'any', 'notok']) })),
  chdir: z.string(),
  output: z.string().describe('pattern (%j, %A, %a…), expanded when the job starts'),
  error: z.string(),
  mail: z.object({ begin: z.boolean(), end: z.boolean(), fail: z.boolean() }),
  mailUser: z.string().nullable(),
  arrayTasks: z.number().int().describe('0 for a plain job'),
  arrayIndices: z.string().nullable().describe('the task indices, e.g. 1-9:2'),
  arrayMaxRunning: z.number().int().nullable(),
  warnings: z.array(z.string()),
});
export type SubmissionPreview = z.infer<typeof submissionPreviewSchema>;
