import { AgentwireError, type AgentwireErrorOptions } from "@agentwire/wire";

/**
 * The connection to the broker closed while an operation was open. Not a wire code: the peer itself
 * raises it. Retryable: a submit with an idempotency key can be sent again safely after reconnect.
 */
export class ConnectionLostError extends AgentwireError {
  constructor(message = "the connection to the broker closed while the operation was open", options?: AgentwireErrorOptions) {
    super("connection_lost", message, options);
  }
  override get retryable(): boolean {
    return true;
  }
}

/** The Agent or Client was closed (drain, shutdown or close); no new operation is taken. */
export class ClosedError extends AgentwireError {
  constructor(message = "the agentwire session is closed", options?: AgentwireErrorOptions) {
    super("closed", message, options);
  }
}

/** A capability handler returned output that does not satisfy its output schema. */
export class InvalidOutputError extends AgentwireError {
  constructor(message: string, options?: AgentwireErrorOptions) {
    super("invalid_output", message, options);
  }
}
