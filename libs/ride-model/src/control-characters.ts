/** C0 controls U+0000–U+001F and DEL U+007F: a CSV field holding one is not one physical line for Athena's SerDes. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Where a string holds a control character: its index (UTF-16) and code point as `U+000A`. */
export interface ControlCharacter {
  index: number;
  codePoint: string;
}

/**
 * The first control character (U+0000–U+001F, U+007F) in `text`, or undefined. Names and S3 keys
 * that go into processed/ CSV must have none: Athena's LazySimpleSerDe and OpenCSVSerde both split
 * records on line breaks whatever the quoting, so one such character turns one row into two.
 * @example
 * findControlCharacter('Bob\nSmith'); // → { index: 3, codePoint: 'U+000A' }
 * findControlCharacter('Zoë, "the fast"'); // → undefined
 */
export function findControlCharacter(text: string): ControlCharacter | undefined {
  const match = CONTROL.exec(text);
  if (!match) return undefined;
  return { index: match.index, codePoint: `U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` };
}
