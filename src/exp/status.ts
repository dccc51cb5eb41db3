/**
 * A run record's status.json and checkpoint file name: they live in src/records/run.ts (schema, reader, writer) and
 * are re-exported here for the experiment code.
 */
export { CHECKPOINT_FILE, readRunStatus, writeRunStatus, type RunStatus } from '../records/run';
export type { FailedRun } from '../records/experiment';
