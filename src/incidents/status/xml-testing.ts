/**
 * For tests: a strict XML 1.0 well-formedness check (one root, tags nested and closed, quoted
 * unique attributes, only the five predefined entities and character references, no character
 * XML forbids, nothing but comments and processing instructions outside the root) that returns
 * the element tree with entities decoded, so tests can read the feeds as a reader would.
 */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (not its children's), entities decoded. */
  text: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9._:-]*$/;
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string, where: string): string {
  return text.replace(/&([^;\s&]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new Error(`${where}: a bare & (write &amp;): …${text.slice(0, 80)}`);
    if (ref in ENTITIES) return ENTITIES[ref]!;
    const n = /^#x([0-9a-fA-F]+)$/.exec(ref) ? parseInt(ref.slice(2), 16) : /^#([0-9]+)$/.exec(ref) ? parseInt(ref.slice(1), 10) : NaN;
    if (Number.isNaN(n)) throw new Error(`${where}: unknown entity &${ref};`);
    return String.fromCodePoint(n);
  });
}

export function parseXml(source: string): XmlElement {
  if (FORBIDDEN.test(source)) throw new Error('a character XML does not allow');
  let rest = source.startsWith('<?xml') ? source.slice(source.indexOf('?>') + 2) : source;
  if (source.startsWith('<?xml') && !/^<\?xml version="1\.0"( encoding="[A-Za-z0-9-]+")?\?>/.test(source)) throw new Error('a bad XML declaration');
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    const text = lt === -1 ? rest : rest.slice(0, lt);
    if (text.length > 0) {
      if (text.includes(']]>')) throw new Error('"]]>" in text');
      const decoded = decode(text, 'text');
      if (stack.length === 0) {
        if (decoded.trim() !== '') throw new Error(`text outside the root element: ${text.slice(0, 40)}`);
      } else stack.at(-1)!.text += decoded;
    }
    if (lt === -1) break;
    rest = rest.slice(lt);
    if (rest.startsWith('<!--')) {
      const end = rest.indexOf('-->');
      if (end === -1) throw new Error('an unclosed comment');
      rest = rest.slice(end + 3);
      continue;
    }
    if (rest.startsWith('<![CDATA[')) {
      const end = rest.indexOf(']]>');
      if (end === -1 || stack.length === 0) throw new Error('a bad CDATA section');
      stack.at(-1)!.text += rest.slice(9, end);
      rest = rest.slice(end + 3);
      continue;
    }
    if (rest.startsWith('<?')) {
      const end = rest.indexOf('?>');
      if (end === -1) throw new Error('an unclosed processing instruction');
      rest = rest.slice(end + 2);
      continue;
    }
    if (rest.startsWith('<!')) throw new Error('a DOCTYPE or other declaration (not expected in a feed)');
    const gt = rest.indexOf('>');
    if (gt === -1) throw new Error('an unclosed tag');
    const tag = rest.slice(1, gt);
    rest = rest.slice(gt + 1);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes ${open ? `<${open.name}>` : 'nothing'}`);
      if (stack.length === 0) root = open;
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const nameMatch = /^([^\s/>]+)/.exec(body);
    if (!nameMatch || !NAME.test(nameMatch[1]!)) throw new Error(`a bad tag name in <${tag.slice(0, 40)}>`);
    const element: XmlElement = { name: nameMatch[1]!, attributes: {}, children: [], text: '' };
    let attrs = body.slice(nameMatch[1]!.length);
    while (attrs.trim() !== '') {
      const m = /^\s+([^\s=]+)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(attrs);
      if (!m || !NAME.test(m[1]!)) throw new Error(`a bad attribute in <${tag.slice(0, 60)}>`);
      if (m[1]! in element.attributes) throw new Error(`attribute ${m[1]} twice in <${element.name}>`);
      element.attributes[m[1]!] = decode(m[3] ?? m[4] ?? '', `attribute ${m[1]}`);
      attrs = attrs.slice(m[0].length);
    }
    if (stack.length === 0 && root !== null) throw new Error(`a second root element <${element.name}>`);
    if (stack.length > 0) stack.at(-1)!.children.push(element);
    if (selfClosing) {
      if (stack.length === 0) root = element;
    } else stack.push(element);
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is not closed`);
  if (!root) throw new Error('no root element');
  return root;
}

/** The children of `element` named `name`. */
export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

/** The text of the only child named `name`; throws when there is not exactly one. */
export function childText(element: XmlElement, name: string): string {
  const found = childrenNamed(element, name);
  if (found.length !== 1) throw new Error(`<${element.name}> has ${found.length} <${name}>`);
  return found[0]!.text;
}
