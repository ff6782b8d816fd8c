/** One area's texts: Japanese must have exactly the keys English has (the compiler checks). */
export function defineMessages<const K extends string>(messages: { en: Record<K, string>; ja: Record<NoInfer<K>, string> }): { en: Record<K, string>; ja: Record<K, string> } {
  return messages;
}
