/** Where there are no child processes (browsers): a pool's members are built by its template. */
import { InvalidPoolOptionsError, type PoolInstance, type PoolMember } from "./pool-member.js";

export type { ProcessSpec } from "./pool-process-node.js";

export function processMember(spec: { command: string }, _instance: PoolInstance): PoolMember {
  throw new InvalidPoolOptionsError(`command ${JSON.stringify(spec.command)}: child-process pool members need Node; use a template here`);
}
