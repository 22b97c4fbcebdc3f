/**
 * Subscriptions by pattern in a token trie: `*` matches one token, a final `>` one or more.
 * `match` collects each subscriber once, however many of its patterns match.
 */
interface Node<S> {
  children: Map<string, Node<S>>;
  /** Subscribers whose pattern ends at this node. */
  subs: Set<S>;
  /** Subscribers whose pattern is this node's path followed by `>`. */
  rest: Set<S>;
}

const node = <S>(): Node<S> => ({ children: new Map(), subs: new Set(), rest: new Set() });

export class TopicTrie<S> {
  private readonly root: Node<S> = node();

  add(pattern: string, sub: S): void {
    const tokens = pattern.split(".");
    let n = this.root;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === ">" && i === tokens.length - 1) {
        n.rest.add(sub);
        return;
      }
      let child = n.children.get(t);
      if (child === undefined) n.children.set(t, (child = node()));
      n = child;
    }
    n.subs.add(sub);
  }

  remove(pattern: string, sub: S): void {
    const tokens = pattern.split(".");
    const path: Node<S>[] = [this.root];
    let n = this.root;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === ">" && i === tokens.length - 1) {
        n.rest.delete(sub);
        break;
      }
      const child = n.children.get(t);
      if (child === undefined) return;
      n = child;
      path.push(n);
      if (i === tokens.length - 1) n.subs.delete(sub);
    }
    // Prune empty nodes bottom-up so churn does not grow the trie.
    for (let i = path.length - 1; i > 0; i--) {
      const p = path[i]!;
      if (p.children.size > 0 || p.subs.size > 0 || p.rest.size > 0) break;
      path[i - 1]!.children.delete(tokens[i - 1]!);
    }
  }

  /** Every subscriber with at least one pattern matching `topic`, each once. */
  match(topic: string, out: Set<S> = new Set()): Set<S> {
    this.walk(this.root, topic.split("."), 0, out);
    return out;
  }

  private walk(n: Node<S>, tokens: string[], i: number, out: Set<S>): void {
    if (i < tokens.length) for (const s of n.rest) out.add(s);
    if (i === tokens.length) {
      for (const s of n.subs) out.add(s);
      return;
    }
    const exact = n.children.get(tokens[i]!);
    if (exact !== undefined) this.walk(exact, tokens, i + 1, out);
    const star = n.children.get("*");
    if (star !== undefined) this.walk(star, tokens, i + 1, out);
  }
}
