/**
 * The uverbs ABI as data: struct layouts, constants and ids, method and
 * command tables, their encoders, and the model of the kernel's validation.
 */

export * from './c-enum.js';
export * from './constants.js';
export * from './ids.js';
export * from './ioctl-command.js';
export * from './kernel-internal.js';
export * from './kernel-model.js';
export * from './layout.js';
export * from './method-spec.js';
export * from './methods.js';
export * from './rdma-cm.js';
export * as rxe from './rxe.js';
export * as siw from './siw.js';
export * from './structs.js';
export * from './write-command.js';
export * from './write-commands.js';
