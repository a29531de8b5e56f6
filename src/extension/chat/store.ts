// The conversations of a workspace: the current one and the earlier ones ("New chat" starts another and
// keeps the rest, switchable from the chat list). Kept in the workspace's state. No `vscode` import:
// it gets a Memento-like store, so it is unit-tested.
import { randomUUID } from 'node:crypto';
import type { ChatSummary, Turn } from '../../webview/protocol';

export interface StateStore {
  get<T>(key: string, defaultValue: T): T;
  update(key: string, value: unknown): Thenable<void> | Promise<void>;
}

export interface Chat {
  id: string;
  turns: Turn[];
  updated: number;
}

interface Stored {
  current: string;
  chats: Chat[];
}

export const CHATS_KEY = 'e2code.chats';
/** Where one conversation was kept before there were several. */
const LEGACY_TURNS_KEY = 'e2code.chat.turns';
export const MAX_CHATS = 50;
export const MAX_TURNS = 200;
const TITLE_CHARS = 60;

export class ChatStore {
  private chats: Chat[];
  private currentId: string;

  constructor(
    private readonly state: StateStore,
    private readonly now: () => number = Date.now,
  ) {
    const stored = state.get<Stored | undefined>(CHATS_KEY, undefined);
    const valid =
      stored && Array.isArray(stored.chats) ? stored.chats.filter((c) => c && typeof c.id === 'string' && Array.isArray(c.turns)) : [];
    if (!valid.length) {
      const legacy = state.get<Turn[]>(LEGACY_TURNS_KEY, []);
      valid.push({ id: randomUUID(), turns: Array.isArray(legacy) ? legacy : [], updated: this.now() });
    }
    // An answer that was streaming when the window closed did not finish.
    this.chats = valid.map((c) => ({
      ...c,
      turns: c.turns.map((t) => (t.pending ? { ...t, pending: false, waiting: undefined, stopReason: 'cancelled' } : t)),
    }));
    this.currentId = this.chats.some((c) => c.id === stored?.current) ? stored!.current : this.chats[0].id;
  }

  get current(): Chat {
    return this.chats.find((c) => c.id === this.currentId)!;
  }

  get turns(): Turn[] {
    return this.current.turns;
  }

  /** Every conversation, the most recent first. */
  list(): ChatSummary[] {
    return [...this.chats]
      .sort((a, b) => b.updated - a.updated)
      .map((c) => ({
        id: c.id,
        title: chatTitle(c.turns),
        updated: c.updated,
        questions: c.turns.filter((t) => t.role === 'user').length,
      }));
  }

  push(turn: Turn): void {
    const chat = this.current;
    chat.turns.push(turn);
    if (chat.turns.length > MAX_TURNS) chat.turns.splice(0, chat.turns.length - MAX_TURNS);
    chat.updated = this.now();
  }

  /** Starts an empty conversation (the current one if it is still empty); earlier ones stay in the list. */
  newChat(): Chat {
    if (this.current.turns.length > 0) {
      const chat: Chat = { id: randomUUID(), turns: [], updated: this.now() };
      this.chats.push(chat);
      this.currentId = chat.id;
      this.trim();
    }
    this.save();
    return this.current;
  }

  /** Makes an earlier conversation the current one; false if there is no such conversation. */
  switchTo(id: string): boolean {
    if (!this.chats.some((c) => c.id === id)) return false;
    this.currentId = id;
    this.save();
    return true;
  }

  save(): void {
    const stored: Stored = { current: this.currentId, chats: this.chats };
    void this.state.update(CHATS_KEY, stored);
  }

  /** The oldest conversations go first when there are too many (never the current one). */
  private trim(): void {
    while (this.chats.length > MAX_CHATS) {
      const oldest = this.chats.filter((c) => c.id !== this.currentId).sort((a, b) => a.updated - b.updated)[0];
      this.chats.splice(this.chats.indexOf(oldest), 1);
    }
  }
}

/** A conversation's name in the list: its first question, on one line. */
export function chatTitle(turns: Turn[]): string {
  const first = turns
    .find((t) => t.role === 'user')
    ?.content.replace(/\s+/g, ' ')
    .trim();
  if (!first) return 'New chat';
  return first.length > TITLE_CHARS ? `${first.slice(0, TITLE_CHARS - 1)}…` : first;
}
