/**
 * A value made once per key and kept for the spans that repeat it (a parent's context, a name's
 * UTF-8, an id's bytes, an attribute's encoded key and value). Past `bound` keys all are forgotten
 * at once: a bound on memory, not a cache policy, since the next spans make what they need again.
 */
export function kept<K, V>(
  values: Map<K, V>,
  key: K,
  bound: number,
  make: (key: K) => V,
  /** The key as kept, when it must not be the caller's own (a string cut from a larger one). */
  keyToKeep: (key: K) => K = asGiven,
): V {
  const known = values.get(key);
  if (known !== undefined) return known;
  const made = make(key);
  if (values.size >= bound) values.clear();
  values.set(keyToKeep(key), made);
  return made;
}

/** The key as the caller gave it: one function for every call, not a new one each time. */
function asGiven<K>(key: K): K {
  return key;
}
