/**
 * Topic filters: the rules for message `tags` / `routingKey` and subscription `filterTags` /
 * `bindingKeys` (the API contract, "Topics" and the limits table), their validation, and the word split
 * shared by the router and its tests. Pure: no clock, no I/O.
 *
 * ## Matching (what `TopicRouter` in `topic_router.ts` implements)
 *
 * - **Tag topics** (CMQ filterType 1). A subscription without `filterTags` (absent or `[]`) takes
 *   every message; a message without tags skips every subscription that has `filterTags`;
 *   otherwise the subscription takes the message when the two sets intersect. This is CMQ's rule
 *   word for word ("the subscriber's will decides").
 * - **Routing-key topics** (CMQ filterType 2). RabbitMQ topic-exchange matching: keys split on
 *   `.` into words, `*` matches exactly one word, `#` matches zero or more words, any other word
 *   matches itself. A subscription with several matching keys takes the message once.
 * - **A routing-key subscription without `bindingKeys` takes every message**, as if bound with
 *   `#`. Why: it mirrors the tag rule (no filter means no filtering) and never leaves a
 *   subscription silently deaf. CMQ is reported to refuse such a Subscribe (error 4000, module
 *   10710 "parameters lack of bindingKey"); every door here, the CMQ door included, accepts it
 *   (listed among the CMQ door's differences).
 * - **A message without `routingKey`** (absent or `""`) has zero words, as in RabbitMQ: it reaches
 *   keys made only of `#` (`#`, `#.#`) and subscriptions without `bindingKeys`.
 * - Each topic filters by one kind only: a tag topic ignores binding/routing keys, a routing-key
 *   topic ignores tags (whether to refuse the other kind is the service's call).
 *
 * ## Validation decisions (the API contract wins over CMQ where they differ)
 *
 * - Tags (`tags` per message, `filterTags` per subscription): at most 5, each 1–16 characters,
 *   counted in Unicode code points (CMQ says "characters"; 16 CJK characters fit). An empty
 *   `filterTags` entry is refused too: message tags are never empty, so it could never match.
 *   Duplicates are accepted (CMQ does not forbid them) and count once when matching; the
 *   limit of 5 counts entries as sent.
 * - Keys (`bindingKeys` ≤ 5 per subscription, `routingKey` one per message): each at most 64
 *   bytes of UTF-8 and 16 dot-separated words (CMQ: "at most 15 dots").
 * - **Empty words are refused** in both binding and routing keys (`a..b`, `.a`, `a.`), although
 *   RabbitMQ allows them. Why: CMQ documents that what `*` stands for "cannot be empty", an empty
 *   word is nearly always a typo (`orders..created`), and refusing now can be relaxed later
 *   without breaking anyone, while the reverse can't. The router itself still follows RabbitMQ
 *   exactly on any input (an empty word is a word; `*` matches it), so replicas agree even on
 *   input that skipped validation.
 * - An empty binding key is refused (use `#` to take everything); an empty routing key is the
 *   same as none.
 * - `*` and `#` are reserved: in a binding key they must stand alone as a word (RabbitMQ would
 *   read `order*` as a literal, which is never what its author meant); a routing key may not
 *   contain them at all (it names one route, not a pattern).
 * - Tags and keys must be well-formed UTF-16 (no lone surrogates, which would turn into U+FFFD
 *   on the way to UTF-8 and so change the key) and hold no control characters (U+0000–U+001F,
 *   U+007F): tags travel in the `x-cmq-message-tag` push header, where those can't go.
 *
 * Every validator returns `null` when the value is fine, else one message that names the field
 * as the native v1 door spells it (`bindingKeys[2]`, zero-based) and what is wrong.
 *
 * @module
 */

/** How a topic filters its fan-out (CMQ's filterType 1 and 2). */
export type TopicFilterType = "tag" | "routingKey";

/** What a subscription asks for; which field counts depends on the topic's filter type. */
export interface SubscriptionFilter {
  /** Tag topics: the tags this subscription wants; absent or empty takes everything. */
  readonly filterTags?: readonly string[];
  /** Routing-key topics: the patterns this subscription wants; absent or empty takes everything. */
  readonly bindingKeys?: readonly string[];
}

/** What a published message carries for routing. */
export interface MessageRoute {
  /** Tag topics: the message's tags. */
  readonly tags?: readonly string[];
  /** Routing-key topics: the message's route; absent or `""` is zero words. */
  readonly routingKey?: string;
}

/** Limits of the API contract's table (and CMQ's), with their units in the names. */
export const topicFilterLimits = {
  /** `tags` per message and `filterTags` per subscription. */
  tagsMax: 5,
  /** Code points of one tag or filter tag. */
  tagCodePointsMax: 16,
  /** `bindingKeys` per subscription. */
  bindingKeysMax: 5,
  /** UTF-8 bytes of one binding key or routing key. */
  keyBytesMax: 64,
  /** Dot-separated words of one binding key or routing key (CMQ: at most 15 dots). */
  keyWordsMax: 16,
} as const;

/** The word that matches exactly one word of a routing key. */
export const singleWordWildcard = "*";
/** The word that matches zero or more words of a routing key. */
export const multiWordWildcard = "#";

/**
 * Splits a binding or routing key into words the way RabbitMQ does: `""` is zero words, and
 * every `.` separates two words, so `"a..b"` is `["a", "", "b"]`.
 *
 * @example
 * ```ts
 * splitKeyWords("orders.eu.created"); // ["orders", "eu", "created"]
 * splitKeyWords(""); // []
 * ```
 */
export function splitKeyWords(key: string): string[] {
  return key === "" ? [] : key.split(".");
}

/**
 * Checks a message's `tags`.
 *
 * @example
 * ```ts
 * validateMessageTags(["apple", "imac"]); // null
 * validateMessageTags(["a-very-long-tag-name"]); // "tags[0]: at most 16 characters, got 20"
 * ```
 */
export function validateMessageTags(tags: readonly string[]): string | null {
  return validateTagList("tags", "message", tags);
}

/**
 * Checks a subscription's `filterTags`.
 *
 * @example
 * ```ts
 * validateFilterTags([]); // null (takes every message)
 * validateFilterTags(["a", "b", "c", "d", "e", "f"]); // "filterTags: at most 5 per subscription, got 6"
 * ```
 */
export function validateFilterTags(filterTags: readonly string[]): string | null {
  return validateTagList("filterTags", "subscription", filterTags);
}

/**
 * Checks a subscription's `bindingKeys`.
 *
 * @example
 * ```ts
 * validateBindingKeys(["orders.*.created", "audit.#"]); // null
 * validateBindingKeys(["a..b"]); // 'bindingKeys[0]: word 2 is empty; words between dots must not be empty'
 * ```
 */
export function validateBindingKeys(bindingKeys: readonly string[]): string | null {
  if (bindingKeys.length > topicFilterLimits.bindingKeysMax) {
    return `bindingKeys: at most ${topicFilterLimits.bindingKeysMax} per subscription, ` +
      `got ${bindingKeys.length}`;
  }
  for (let index = 0; index < bindingKeys.length; index++) {
    const field = `bindingKeys[${index}]`;
    const key = bindingKeys[index];
    if (key === "") return `${field}: must not be empty (use "#" to match every routing key)`;
    const problem = checkKeyText(field, key) ?? checkBindingWords(field, key);
    if (problem !== null) return problem;
  }
  return null;
}

/**
 * Checks a message's `routingKey`; `""` is accepted and means no route.
 *
 * @example
 * ```ts
 * validateRoutingKey("orders.eu.created"); // null
 * validateRoutingKey("orders.*"); // 'routingKey: must not contain "*" or "#" (wildcards belong in binding keys)'
 * ```
 */
export function validateRoutingKey(routingKey: string): string | null {
  if (routingKey === "") return null;
  const field = "routingKey";
  const problem = checkKeyText(field, routingKey);
  if (problem !== null) return problem;
  if (routingKey.includes(singleWordWildcard) || routingKey.includes(multiWordWildcard)) {
    return `${field}: must not contain "*" or "#" (wildcards belong in binding keys)`;
  }
  return checkWordShape(field, splitKeyWords(routingKey));
}

/** The shared checks of `tags` and `filterTags`. */
function validateTagList(
  field: string,
  owner: "message" | "subscription",
  tags: readonly string[],
): string | null {
  if (tags.length > topicFilterLimits.tagsMax) {
    return `${field}: at most ${topicFilterLimits.tagsMax} per ${owner}, got ${tags.length}`;
  }
  for (let index = 0; index < tags.length; index++) {
    const tag = tags[index];
    const where = `${field}[${index}]`;
    if (tag === "") return `${where}: must not be empty`;
    const problem = checkWellFormed(where, tag);
    if (problem !== null) return problem;
    const codePoints = countCodePoints(tag);
    if (codePoints > topicFilterLimits.tagCodePointsMax) {
      return `${where}: at most ${topicFilterLimits.tagCodePointsMax} characters, got ${codePoints}`;
    }
  }
  return null;
}

/** Checks of a non-empty key as text: well-formed, no control characters, byte length. */
function checkKeyText(field: string, key: string): string | null {
  const problem = checkWellFormed(field, key);
  if (problem !== null) return problem;
  const bytes = utf8ByteLength(key);
  if (bytes > topicFilterLimits.keyBytesMax) {
    return `${field}: at most ${topicFilterLimits.keyBytesMax} bytes (UTF-8), got ${bytes}`;
  }
  return null;
}

/** Word count and empty words, the same for binding and routing keys. */
function checkWordShape(field: string, words: readonly string[]): string | null {
  if (words.length > topicFilterLimits.keyWordsMax) {
    return `${field}: at most ${topicFilterLimits.keyWordsMax} dot-separated words, ` +
      `got ${words.length}`;
  }
  for (let index = 0; index < words.length; index++) {
    if (words[index] === "") {
      return `${field}: word ${index + 1} is empty; words between dots must not be empty`;
    }
  }
  return null;
}

/** A binding key's words: the shape, then wildcards standing alone. */
function checkBindingWords(field: string, key: string): string | null {
  const words = splitKeyWords(key);
  const problem = checkWordShape(field, words);
  if (problem !== null) return problem;
  for (let index = 0; index < words.length; index++) {
    const word = words[index];
    if (word === singleWordWildcard || word === multiWordWildcard) continue;
    if (word.includes(singleWordWildcard) || word.includes(multiWordWildcard)) {
      return `${field}: word ${index + 1} "${word}" mixes a wildcard with other characters; ` +
        `"*" and "#" must stand alone as a word`;
    }
  }
  return null;
}

/** Lone surrogates and control characters, which no tag or key may hold. */
function checkWellFormed(field: string, text: string): string | null {
  if (!text.isWellFormed()) return `${field}: must be well-formed Unicode (lone surrogate)`;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return `${field}: must not contain control characters`;
  }
  return null;
}

/** Code points of a well-formed string, without allocating an array of them. */
function countCodePoints(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    // A high surrogate followed by its low half is one code point.
    if (code >= 0xd800 && code <= 0xdbff && isLowSurrogateAt(text, index + 1)) index++;
    count++;
  }
  return count;
}

/**
 * Bytes of `text` in UTF-8, as `TextEncoder` would write them (a lone surrogate becomes
 * U+FFFD, 3 bytes), without encoding.
 *
 * @example
 * ```ts
 * utf8ByteLength("héllo"); // 6
 * ```
 */
export function utf8ByteLength(text: string): number {
  // The native encoder counts about ten times faster than a loop over char codes, and every
  // published body is counted; it writes into a scratch buffer that a short text always fits.
  if (text.length * 3 <= utf8Scratch.length) {
    return utf8Encoder.encodeInto(text, utf8Scratch).written;
  }
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogateAt(text, index + 1)) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}

const utf8Encoder = new TextEncoder();
/** Texts up to a third of this many code units are counted natively (64 KiB of scratch). */
const utf8Scratch = new Uint8Array(64 * 1024);

function isLowSurrogateAt(text: string, index: number): boolean {
  if (index >= text.length) return false;
  const code = text.charCodeAt(index);
  return code >= 0xdc00 && code <= 0xdfff;
}
