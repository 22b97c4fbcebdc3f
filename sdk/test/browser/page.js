// The browser test's page: plain JS against the browser bundle, run in Chromium. The test calls
// window.scenario and window.connectFailure and compares what they return; window.subscribed (exposed
// by the test) makes the Node side publish once this page's subscription is acknowledged.
import { ConnectError, connect } from "/agentwire.js";

window.scenario = async ({ url, capability, topic }) => {
  const client = await connect({ url, name: "browser-page", connectTimeoutMs: 10_000 });
  try {
    const streamed = [];
    for await (const e of client.stream(capability, { text: "streamed" })) streamed.push(e);

    const handle = client.submit(capability, { text: "submitted" });
    const progress = [];
    for await (const p of handle.progress()) progress.push(p);
    const submitted = { id: await handle.id, output: await handle };

    let received;
    const message = new Promise((resolve) => (received = resolve));
    const unsubscribe = await client.subscribe(topic, (msg) => received({ from: msg.from, topic: msg.topic, payload: msg.payload }));
    await window.subscribed();
    const incoming = await message;
    await unsubscribe();

    return {
      streamed,
      progress,
      submitted,
      incoming,
      // What the page had to work with: no Node globals.
      globals: { Buffer: typeof Buffer, process: typeof process, setImmediate: typeof setImmediate },
    };
  } finally {
    await client.close();
  }
};

window.connectFailure = async (url) => {
  try {
    await (await connect({ url, connectTimeoutMs: 300 })).close();
    return { connected: true };
  } catch (err) {
    return { connectError: err instanceof ConnectError, code: err.code, retryable: err.retryable };
  }
};
