// The chat list: "New chat" keeps earlier conversations, switching restores them, state survives a reload.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChatStore, chatTitle, CHATS_KEY, MAX_CHATS, MAX_TURNS, type StateStore } from '../../src/extension/chat/store';
import type { Turn } from '../../src/webview/protocol';

function memento(initial: Record<string, unknown> = {}): StateStore & { data: Record<string, unknown> } {
  const data: Record<string, unknown> = structuredClone(initial);
  return {
    data,
    get: <T>(key: string, d: T) => (key in data ? (structuredClone(data[key]) as T) : d),
    update: async (key: string, value: unknown) => {
      data[key] = structuredClone(value);
    },
  };
}

const user = (id: string, content: string): Turn => ({ id, role: 'user', content });
const answer = (id: string, content: string, extra: Partial<Turn> = {}): Turn => ({ id, role: 'assistant', content, ...extra });

test('New chat keeps the earlier conversation in the list and switching brings it back', () => {
  let clock = 1000;
  const state = memento();
  const store = new ChatStore(state, () => clock++);
  store.push(user('u1', 'Where is parseConfig defined?'));
  store.push(answer('a1', 'In src/config.ts:4'));
  const first = store.current.id;
  store.save();

  const second = store.newChat();
  assert.notEqual(second.id, first);
  assert.equal(store.turns.length, 0);
  store.push(user('u2', 'What does   slugify\n do?'));
  store.save();

  const list = store.list();
  assert.deepEqual(
    list.map((c) => [c.title, c.questions]),
    [
      ['What does slugify do?', 1],
      ['Where is parseConfig defined?', 1],
    ],
    'most recent first',
  );
  assert.equal(store.switchTo(first), true);
  assert.deepEqual(
    store.turns.map((t) => t.id),
    ['u1', 'a1'],
  );
  assert.equal(store.switchTo('no-such-chat'), false);
  assert.equal(store.current.id, first, 'a bad id leaves the current chat');

  // A reload (a new store over the same state) comes back to the same chats and the same current one.
  const again = new ChatStore(state);
  assert.equal(again.current.id, first);
  assert.equal(again.list().length, 2);
});

test('New chat on an empty conversation does not add another empty one', () => {
  const store = new ChatStore(memento());
  const id = store.current.id;
  assert.equal(store.newChat().id, id);
  assert.equal(store.list().length, 1);
  assert.equal(store.list()[0].title, 'New chat');
});

test('an answer that was streaming when the window closed comes back as stopped', () => {
  const state = memento({
    [CHATS_KEY]: {
      current: 'c',
      chats: [
        { id: 'c', updated: 1, turns: [user('u', 'q'), answer('a', 'par', { pending: true, waiting: 'Waiting for the index (42%)…' })] },
      ],
    },
  });
  const store = new ChatStore(state);
  const a = store.turns[1];
  assert.equal(a.pending, false);
  assert.equal(a.waiting, undefined);
  assert.equal(a.stopReason, 'cancelled');
});

test('the one conversation kept before there were several becomes the first chat', () => {
  const store = new ChatStore(memento({ 'e2code.chat.turns': [user('u', 'old question'), answer('a', 'old answer')] }));
  assert.equal(store.list().length, 1);
  assert.deepEqual(
    store.turns.map((t) => t.content),
    ['old question', 'old answer'],
  );
});

test('limits: turns per chat and number of chats (the current one is never dropped)', () => {
  let clock = 0;
  const store = new ChatStore(memento(), () => ++clock);
  for (let i = 0; i < MAX_TURNS + 10; i++) store.push(user(`u${i}`, `q${i}`));
  assert.equal(store.turns.length, MAX_TURNS);
  assert.equal(store.turns[0].id, 'u10', 'the oldest turns go');
  const firstId = store.current.id;
  for (let i = 0; i < MAX_CHATS + 5; i++) {
    store.newChat();
    store.push(user(`c${i}`, `chat ${i}`));
  }
  assert.equal(store.list().length, MAX_CHATS);
  assert.ok(!store.list().some((c) => c.id === firstId), 'the oldest chat went first');
  assert.equal(store.list()[0].id, store.current.id);
});

test('chatTitle: the first question on one line, cut with an ellipsis', () => {
  assert.equal(chatTitle([]), 'New chat');
  assert.equal(chatTitle([answer('a', 'x'), user('u', '  How do I\nadd a subcommand?  ')]), 'How do I add a subcommand?');
  const long = chatTitle([user('u', 'x'.repeat(100))]);
  assert.equal(long.length, 60);
  assert.ok(long.endsWith('…'));
});
