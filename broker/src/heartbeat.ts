/**
 * ONE interval timer for all sessions: evicts those silent for heartbeat_timeout_ms (and those that
 * never registered within it) [CONN-4], and runs other periodic housekeeping.
 */
import { CLOSE_CODES } from "@agentwire/wire";
import type { Session } from "./session.js";

export class HeartbeatMonitor {
  private timer: NodeJS.Timeout | undefined;
  private period = 0;
  private lastTick = 0;

  constructor(
    private readonly sessions: ReadonlySet<Session>,
    private readonly timeoutMs: number,
    private readonly onEvict: (session: Session) => void,
    private readonly housekeeping: (now: number) => void,
  ) {}

  start(): void {
    // A quarter of the timeout keeps eviction within 1.25 x timeout without a timer per session.
    this.period = Math.max(10, Math.min(1_000, Math.floor(this.timeoutMs / 4)));
    this.lastTick = Date.now();
    this.timer = setInterval(this.tick, this.period);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private readonly tick = (): void => {
    const now = Date.now();
    // This process was paused or stalled (SIGSTOP, a long GC): peers were not heard because this broker
    // was not listening, so the gap does not count as their silence. The sockets are read next.
    const gap = now - this.lastTick - this.period;
    this.lastTick = now;
    if (gap > this.period) for (const s of this.sessions) s.lastSeen += gap;
    for (const s of this.sessions) {
      if (s.state !== "closed" && now - s.lastSeen > this.timeoutMs) {
        this.onEvict(s);
        s.closeWith(CLOSE_CODES.policyViolation, s.state === "awaiting_register" ? "no register in time" : "heartbeat timeout");
      }
    }
    this.housekeeping(now);
  };
}
