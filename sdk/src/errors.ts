import { AgentwireError, type AgentwireErrorOptions } from "@agentwire/wire";

/**
 * The connection to the broker closed while an operation was open. Not a wire code: the peer itself
 * raises it. Retryable: a submit with an idempotency key can be sent again safely after reconnect.
 */
export class ConnectionLostError extends AgentwireError {
  constructor(message = "the connection to the broker closed while the operation was open", options?: AgentwireErrorOptions) {
    super("connection_lost", message, { retryable: true, ...options });
  }
}

/** The Agent or Client was closed (drain, shutdown or close); no new operation is taken. */
export class ClosedError extends AgentwireError {
  constructor(message = "the agentwire session is closed", options?: AgentwireErrorOptions) {
    super("closed", message, options);
  }
}

/**
 * The first connect did not reach a session: the broker was unreachable, refused the upgrade, or did
 * not register this peer within the connect timeout, or the caller's signal aborted. `details` holds
 * the URL, the number of attempts and the last failure. Retryable: the broker may come up later.
 */
export class ConnectError extends AgentwireError {
  constructor(message: string, options?: AgentwireErrorOptions) {
    super("connect_failed", message, { retryable: true, ...options });
  }
}

/** The broker URL is not a ws:// or wss:// URL. */
export class InvalidUrlError extends AgentwireError {
  constructor(message: string, options?: AgentwireErrorOptions) {
    super("invalid_url", message, options);
  }
}
