/**
 * Submit, defined once for every transport [TASK-2..4, TASK-26..28, MESH-4]: a `submit` frame, an
 * HTTP POST /v1/tasks. The transport runs its own checks (shutting down, ACL, in-flight bound) and says
 * through a `SubmitReply` what becomes of the answer.
 */
import { AgentwireError, OverloadedError } from "@agentwire/wire";
import type { MeshPort, RemoteOutcome } from "../backend.js";
import { scopedKey, type TaskService, type TaskSpec } from "./task-service.js";
import type { TaskObserver, TaskRecord } from "./task-table.js";

/** What a transport does with a submit's answer. */
export interface SubmitReply {
  /** Who follows the task's progress and result here (a session), or null (an HTTP submit). */
  readonly observer: TaskObserver | null;
  /** Whether to watch a task another broker accepted until it ends (`foreignOutcome`). */
  readonly follows: boolean;
  /** The task id to announce for submit `ref`: a new task, or (`duplicate`) the first task of a repeated key. */
  accepted(ref: string, taskId: string, duplicate: boolean): void;
  /** The outcome of a task another broker accepted (undefined: none before its deadline). */
  foreignOutcome(ref: string, taskId: string, outcome: RemoteOutcome | undefined): void;
  /**
   * Takes an answer that comes later (a durable event store writing `task.submitted` first) without
   * holding the transport's later frames; it reports the work's error itself. Absent: the submit
   * returns the work's promise instead.
   */
  answerLater?(work: Promise<void>, ref: string): void;
}

/** How long a submit waits for a live broker to record the task its key is bound to (it binds, then records). */
const UNRECORDED_PATIENCE_MS = 10_000;

export class Submissions {
  constructor(
    private readonly tasks: TaskService,
    private readonly mesh: MeshPort,
    /** With a durable event store: settles once the last event recorded is written (`EventStore.committed`). */
    private readonly durable?: () => Promise<void>,
  ) {}

  /**
   * Creates the task (or joins the first task of its idempotency key) and answers through `reply`.
   * Returns a promise when the mesh must be asked first (the transport keeps later frames waiting);
   * the submit's error (no_agents, overloaded, ...) is thrown, or the promise rejects with it.
   */
  submit(spec: TaskSpec, reply: SubmitReply, ref: string, scope: string, owner: string): void | Promise<void> {
    if (spec.idempotency_key !== undefined) {
      const key = scopedKey(scope, spec.idempotency_key);
      if (this.tasks.table.byIdempotencyKey(key) === undefined) {
        const id = this.tasks.newId();
        const claim = this.mesh.claimKey(key, id);
        if (claim !== undefined) return this.onMesh(spec, reply, ref, scope, owner, key, id, claim);
      }
    }
    return this.accept(spec, reply, ref, scope, owner);
  }

  /** Creates (or, for a known idempotency key, joins) the task and answers `accepted` [TASK-3, TASK-26]. */
  private accept(spec: TaskSpec, reply: SubmitReply, ref: string, scope: string, owner: string): void | Promise<void> {
    const { task, duplicate } = this.tasks.create(spec, reply.observer, ref, scope, owner);
    if (!duplicate) return this.admit(task, reply, ref, false);
    reply.accepted(ref, task.id, duplicate);
    if (reply.observer !== null && (task.submitter !== reply.observer || task.endedAt !== 0)) this.tasks.watch(task, reply.observer, ref);
  }

  /**
   * Answers `accepted` for a new task and routes it. With a durable event store its `task.submitted`
   * is written first: the task is routed only then, and refused (`overloaded`, nothing ran) when the
   * store cannot write it in time.
   */
  private admit(task: TaskRecord, reply: SubmitReply, ref: string, recorded: boolean): void | Promise<void> {
    if (this.durable === undefined) {
      reply.accepted(ref, task.id, false);
      this.tasks.start(task, recorded);
      return;
    }
    this.tasks.announce(task);
    const work = this.durable().then(
      () => {
        reply.accepted(ref, task.id, false);
        this.tasks.start(task, recorded, true);
      },
      (err: unknown) => {
        this.tasks.discard(task);
        throw err instanceof AgentwireError ? new OverloadedError(err.message, { ref }) : err;
      },
    );
    if (reply.answerLater === undefined) return work;
    reply.answerLater(work, ref);
  }

  /**
   * A new task whose idempotency key was just bound mesh-wide to `id`: `accepted` goes out once the
   * task is recorded in the mesh, so a key never names a task that a crash of this broker could lose.
   */
  private async acceptRecorded(spec: TaskSpec, reply: SubmitReply, ref: string, scope: string, owner: string, key: string, id: string): Promise<void> {
    let task;
    try {
      task = this.tasks.create(spec, reply.observer, ref, scope, owner, { id }).task;
      await this.tasks.record(task);
    } catch (err) {
      if (task !== undefined) this.tasks.discard(task);
      await this.mesh.rebindKey(key, id, "").catch(() => undefined); // no task: the key is free again
      throw err;
    }
    return this.admit(task, reply, ref, true);
  }

  /**
   * A key that may be bound on another broker: bind it to a new task, or follow the task it is bound
   * to — this broker's, another broker's (its outcome watched in the mesh), or none that was ever
   * recorded (its submit failed or its broker died in between: the key is taken over) [MESH-4].
   */
  private async onMesh(spec: TaskSpec, reply: SubmitReply, ref: string, scope: string, owner: string, key: string, id: string, firstClaim: Promise<string | undefined>): Promise<void> {
    const patience = Date.now() + UNRECORDED_PATIENCE_MS;
    for (let claims = 0; claims < 3; claims++) {
      const held = await (claims === 0 ? firstClaim : this.mesh.claimKey(key, id));
      // Unbound, or bound by this very claim: a claim the client resent after a lost reply reads its own write.
      if (held === undefined || held === id) return this.acceptRecorded(spec, reply, ref, scope, owner, key, id);
      // Bound here to a task of this broker (a record of another broker's task run here does not count).
      if (this.tasks.table.byIdempotencyKey(key)?.id === held) return this.accept(spec, reply, ref, scope, owner);
      let known = await this.mesh.foreignTask(held);
      // An id of this process that it does not hold and the mesh never recorded: a submit that bound the
      // key and then failed whole while the store refused both its record and the key's release. No one
      // will record it: the key is taken over at once instead of followed to a task that never ends.
      const leftover = known.kind === "unknown" && this.tasks.isOwnId(held) && this.tasks.table.get(held) === undefined;
      while (!leftover && known.kind === "unknown" && known.originLive && Date.now() < patience) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        known = await this.mesh.foreignTask(held);
      }
      // Never recorded, and nothing will record it: its broker is gone, or it is this process's own
      // leftover, or the patience ran out (a broker gives up recording after RECORD_PATIENCE_MS, less
      // than this patience, and then its submit failed whole). The key is taken over.
      if (known.kind === "unknown") {
        if (await this.mesh.rebindKey(key, held, id)) return this.acceptRecorded(spec, reply, ref, scope, owner, key, id);
        continue; // taken meanwhile: claim again
      }
      // Another broker's task (or an earlier process's): this submitter follows it [TASK-28].
      reply.accepted(ref, held, true);
      if (known.kind === "ended") return reply.foreignOutcome(ref, held, known.outcome);
      if (reply.follows) {
        this.mesh.watchForeign(held, known.deadline, (outcome) => reply.foreignOutcome(ref, held, outcome));
      }
      return;
    }
    throw new OverloadedError(`idempotency key ${spec.idempotency_key} is contended; submit again`, { ref });
  }
}
