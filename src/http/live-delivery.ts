import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import { MessageType } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * Bytes a subscriber's socket may hold unsent: a client that stops reading is ended here rather than
 * buffered for without bound (about four thousand domain status events).
 */
const MAX_UNSENT_BYTES = 1024 * 1024;

/**
 * Sends a subscription's results as graphql-ws `next` messages straight to the socket: the payload is
 * serialized once per result, which the subscribers sharing an execution share, and the send is not
 * awaited (graphql-ws awaits every write's callback, a promise per message). Returns the subscription's
 * `live` (see Context): false when the socket is closed or too far behind, which ends the subscription.
 */
export function liveDelivery(format: (result: ExecutionResult) => FormattedExecutionResult) {
  const payloads = new WeakMap<ExecutionResult, string>();
  return (socket: WebSocket, id: string) => {
    const prefix = `{"id":${JSON.stringify(id)},"type":"${MessageType.Next}","payload":`;
    return (result: ExecutionResult): boolean => {
      if (socket.readyState !== WebSocket.OPEN) return false;
      let payload = payloads.get(result);
      if (payload === undefined) {
        payload = JSON.stringify(format(result));
        payloads.set(result, payload);
      }
      socket.send(`${prefix}${payload}}`);
      return socket.bufferedAmount <= MAX_UNSENT_BYTES;
    };
  };
}
