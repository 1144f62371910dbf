import type { Logger } from 'pino';
import { Room } from './room.js';
import type { WorkerPool } from './worker-pool.js';

/** Owns the rooms. Creation is serialized per room id, so concurrent joins to a new room share one Router. */
export class RoomRegistry {
  private readonly rooms = new Map<string, Room>();
  private readonly pending = new Map<string, Promise<Room>>();

  constructor(private readonly pool: WorkerPool, private readonly log: Logger) {}

  async getOrCreate(id: string): Promise<Room> {
    const existing = this.rooms.get(id);
    if (existing !== undefined && !existing.closed) return existing;
    let creating = this.pending.get(id);
    if (creating === undefined) {
      creating = Room.create(id, this.pool.leastLoaded(), this.log).then((room) => {
        this.rooms.set(id, room);
        this.log.info({ event: 'room_created', room: id, worker: room.slot.index }, 'room created');
        return room;
      }).finally(() => this.pending.delete(id));
      this.pending.set(id, creating);
    }
    return creating;
  }

  /** Closes the room's router once its last peer has left and no peer is still connecting to it. */
  closeIfEmpty(room: Room): void {
    if (!room.empty || this.rooms.get(room.id) !== room) return;
    this.rooms.delete(room.id);
    room.close();
    this.log.info({ event: 'room_closed', room: room.id }, 'room closed (empty)');
  }

  all(): Room[] {
    return [...this.rooms.values()];
  }

  get size(): number {
    return this.rooms.size;
  }

  closeAll(): void {
    for (const room of this.rooms.values()) room.close();
    this.rooms.clear();
  }
}
