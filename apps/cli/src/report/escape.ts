const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text for HTML content or a double- or single-quoted attribute: every data string (ride names,
 * keys, reasons, station ids) goes through here, so `</script><img onerror=…>` shows as text.
 * @example
 * escapeHtml('<b>"x"</b>'); // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/**
 * `n.toLocaleString('en-US')`: a safe integer's digits grouped by three with commas, written
 * here; any other number through toLocaleString. The first toLocaleString of a process loads
 * ICU's number formats (tens of ms), and a report's numbers are nearly all counts.
 * @example
 * grouped(1234567); // '1,234,567'
 */
export function grouped(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString('en-US');
  const digits = String(n < 0 ? -n : n);
  let text = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let at = text.length; at < digits.length; at += 3) text += `,${digits.slice(at, at + 3)}`;
  return n < 0 ? `-${text}` : text;
}
