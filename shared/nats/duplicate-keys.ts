/**
 * The first key that appears twice in one JSON object, with its path, or
 * null. JSON.parse keeps the last of duplicate keys silently; a message that
 * says two things in one place is refused instead. Call only on text that
 * JSON.parse accepted (the scan relies on it being well formed).
 */
export function duplicateJsonKey(text: string): string | null {
  const objects: Array<{ keys: Set<string>; path: string }> = [];
  let lastKey: string | null = null;
  let path = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (text[j] !== '"') {
        if (text[j] === '\\') {
          s += text.slice(j, j + 2);
          j += 2;
        } else s += text[j++];
      }
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k]!)) k++;
      if (text[k] === ':' && objects.length > 0) {
        const key = JSON.parse(`"${s}"`) as string;
        const top = objects[objects.length - 1]!;
        if (top.keys.has(key)) return top.path ? `${top.path}.${key}` : key;
        top.keys.add(key);
        lastKey = key;
      }
      i = j;
    } else if (c === '{') {
      const here = lastKey === null ? path : path ? `${path}.${lastKey}` : lastKey;
      objects.push({ keys: new Set(), path: here });
      path = here;
      lastKey = null;
    } else if (c === '}') {
      objects.pop();
      path = objects[objects.length - 1]?.path ?? '';
      lastKey = null;
    } else if (c === '[' || c === ',') {
      lastKey = null;
    }
  }
  return null;
}
