// The list of CLI commands. Add one line per command module.
import type { Command } from 'commander';
import { registerAsk } from './ask';
import { registerExplain } from './explain';
import { registerSummarize } from './summarize';
import { registerGenerate } from './generate';
import { registerDoctor } from './doctor';
import { registerIndex } from './indexCmd';
import { registerChunks } from './chunks';
import { registerBench } from './bench';
import { registerEval } from './eval';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerAsk,
  registerExplain,
  registerSummarize,
  registerGenerate,
  registerDoctor,
  registerIndex,
  registerChunks,
  registerBench,
  registerEval,
];
