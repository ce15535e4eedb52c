import type { WebSocket } from 'ws';

/** The WebSocket connections each user has open, so they can be closed when the user's access ends. */
export class LiveSockets {
  private readonly byUser = new Map<string, Set<WebSocket>>();

  add(userId: string, socket: WebSocket): void {
    let sockets = this.byUser.get(userId);
    if (!sockets) {
      sockets = new Set();
      this.byUser.set(userId, sockets);
    }
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) this.byUser.delete(userId);
    });
  }

  /** 4403: graphql-ws clients see "Forbidden" and do not retry with the dead session. */
  close(userId: string): void {
    for (const socket of this.byUser.get(userId) ?? []) socket.close(4403, 'Forbidden');
  }
}
