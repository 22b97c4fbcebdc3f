/**
 * Typed contracts: one definition of a capability (or a request) shared by the agent that serves it
 * and the clients that call it, so input, output and progress types are inferred on both sides and a
 * misspelled field fails to compile. Strings still work wherever a contract does, for dynamic use.
 *
 *   export const Greet = defineCapability({ name: "greet", input: z.object({ name: z.string() }), output: z.object({ text: z.string() }) });
 *   agent.capability(Greet, ({ name }) => ({ text: `hello ${name}` }));
 *   const { text } = await client.submit(Greet, { name: "ada" }).result;
 */
import type { z } from "zod";

export interface CapabilityContract<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, P extends z.ZodType = z.ZodType> {
  readonly kind: "capability";
  readonly name: string;
  readonly input: I;
  readonly output: O | undefined;
  readonly progress: P | undefined;
  readonly version: string | undefined;
  readonly description: string | undefined;
  readonly tags: readonly string[] | undefined;
}

export interface CapabilityDefinition<I extends z.ZodType, O extends z.ZodType, P extends z.ZodType> {
  name: string;
  input: I;
  output?: O;
  /** Schema of the progress updates the handler streams. */
  progress?: P;
  /** Semantic version MAJOR.MINOR.PATCH the agent offers (default 1.0.0). */
  version?: string;
  description?: string;
  tags?: string[];
}

/** A capability's contract: its name and the zod schemas of input, output and progress. */
export function defineCapability<I extends z.ZodType, O extends z.ZodType = z.ZodUnknown, P extends z.ZodType = z.ZodUnknown>(
  def: CapabilityDefinition<I, O, P>,
): CapabilityContract<I, O, P> {
  return Object.freeze({
    kind: "capability",
    name: def.name,
    input: def.input,
    output: def.output,
    progress: def.progress,
    version: def.version,
    description: def.description,
    tags: def.tags === undefined ? undefined : Object.freeze([...def.tags]),
  });
}

export interface RequestContract<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  readonly kind: "request";
  readonly name: string;
  readonly input: I;
  readonly output: O | undefined;
}

/** A request's contract: the capability name requests are addressed to, and payload and answer schemas. */
export function defineRequest<I extends z.ZodType, O extends z.ZodType = z.ZodUnknown>(def: { name: string; input: I; output?: O }): RequestContract<I, O> {
  return Object.freeze({ kind: "request", name: def.name, input: def.input, output: def.output });
}

/** What a caller passes: a contract, or a capability name with types given by hand (default unknown). */
export type CapabilityRef = string | CapabilityContract;

/** The input a caller sends for `C`. */
export type InputOf<C> = C extends CapabilityContract<infer I, z.ZodType, z.ZodType> ? z.input<I> : C extends RequestContract<infer I, z.ZodType> ? z.input<I> : unknown;
/** The output a caller receives for `C` (after the agent's validation). */
export type OutputOf<C> = C extends CapabilityContract<z.ZodType, infer O, z.ZodType> ? z.output<O> : C extends RequestContract<z.ZodType, infer O> ? z.output<O> : unknown;
/** The progress updates a caller receives for `C`. */
export type ProgressOf<C> = C extends CapabilityContract<z.ZodType, z.ZodType, infer P> ? z.output<P> : unknown;

export function capabilityName(ref: string | { name: string }): string {
  return typeof ref === "string" ? ref : ref.name;
}
