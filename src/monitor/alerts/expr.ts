import type { LabelMatcher, LabelMatchOp } from '../model.ts';

/**
 * Alert expressions: a subset of PromQL, parsed by hand (recursive descent with precedence
 * climbing) into a typed syntax tree. Every error names what was found, where (column, and line
 * when the expression spans several), and what would have been valid there:
 *   unexpected ')' at column 17: expected a number, a metric name or '('
 * npm has no maintained PromQL parser that gives such messages: @prometheus-io/lezer-promql is
 * a CodeMirror grammar whose error recovery yields a tree with error nodes, not a reason.
 *
 * Supported: instant selectors `name{l="v",l!="v",l=~"re",l!~"re"}`, range selectors `[5m]`,
 * numbers (1, 1.5, 1e3, 0x1f, Inf, NaN) and durations as numbers of seconds (`4h` = 14400),
 * `^ * / % + -` and comparisons `== != > < >= <=` (with `bool`), `and or unless`, vector
 * matching `on(…)`/`ignoring(…)` with `group_left(…)`/`group_right(…)`, aggregations
 * sum/avg/min/max/count with `by(…)`/`without(…)`, and the functions of FUNCTIONS below.
 */

export type ValueType = 'scalar' | 'vector' | 'matrix';
export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^';
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<=';
export type SetOp = 'and' | 'or' | 'unless';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;
export const AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count'] as const;
export type AggregationOp = (typeof AGGREGATIONS)[number];

export interface VectorMatching {
  /** true: `on(labels)`; false: `ignoring(labels)` (the default, with no labels). */
  on: boolean;
  labels: string[];
  /** many-to-one (`group_left`) or one-to-many (`group_right`), with labels copied from the "one" side. */
  group: { side: 'left' | 'right'; include: string[] } | null;
}

export type Expr =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'selector'; name: string; matchers: LabelMatcher[]; rangeMs: number | null; pos: number }
  | { kind: 'unary'; op: '-' | '+'; expr: Expr; pos: number }
  | { kind: 'binary'; op: BinaryOp; lhs: Expr; rhs: Expr; bool: boolean; matching: VectorMatching; pos: number }
  | { kind: 'aggregate'; op: AggregationOp; expr: Expr; grouping: { without: boolean; labels: string[] } | null; pos: number }
  | { kind: 'call'; func: FunctionName; args: Expr[]; pos: number }
  | { kind: 'paren'; expr: Expr; pos: number };

/** Each function's argument types and result type. */
export const FUNCTIONS = {
  rate: { args: ['matrix'], returns: 'vector' },
  increase: { args: ['matrix'], returns: 'vector' },
  irate: { args: ['matrix'], returns: 'vector' },
  delta: { args: ['matrix'], returns: 'vector' },
  deriv: { args: ['matrix'], returns: 'vector' },
  predict_linear: { args: ['matrix', 'scalar'], returns: 'vector' },
  avg_over_time: { args: ['matrix'], returns: 'vector' },
  min_over_time: { args: ['matrix'], returns: 'vector' },
  max_over_time: { args: ['matrix'], returns: 'vector' },
  abs: { args: ['vector'], returns: 'vector' },
  clamp_min: { args: ['vector', 'scalar'], returns: 'vector' },
  clamp_max: { args: ['vector', 'scalar'], returns: 'vector' },
  time: { args: [], returns: 'scalar' },
  absent: { args: ['vector'], returns: 'vector' },
} as const satisfies Record<string, { args: readonly ValueType[]; returns: ValueType }>;
export type FunctionName = keyof typeof FUNCTIONS;

const COMPARISONS: readonly string[] = ['==', '!=', '>', '<', '>=', '<='];
const SET_OPS: readonly string[] = ['and', 'or', 'unless'];
/** Binding power, loosest first (PromQL's order); `^` is right-associative. */
const PRECEDENCE: Record<string, number> = {
  or: 1,
  and: 2, unless: 2,
  '==': 3, '!=': 3, '>': 3, '<': 3, '>=': 3, '<=': 3,
  '+': 4, '-': 4,
  '*': 5, '/': 5, '%': 5,
  '^': 7,
};
const UNARY_PRECEDENCE = 6;

/** A parse error: what, where (0-based offset, 1-based line and column), and the message. */
export class ExprError extends Error {
  constructor(
    message: string,
    readonly position: number,
    readonly line: number,
    readonly column: number,
    /** The message without " at column N" — for a pointer display. */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'ExprError';
  }
}

function locate(source: string, pos: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < pos && i < source.length; i++) {
    if (source[i] === '\n') {
      line++;
      start = i + 1;
    }
  }
  return { line, column: pos - start + 1 };
}

function errorAt(source: string, pos: number, what: string, rest: string): ExprError {
  const { line, column } = locate(source, pos);
  const where = source.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`;
  return new ExprError(`${what} at ${where}${rest ? `: ${rest}` : ''}`, pos, line, column, `${what}${rest ? `: ${rest}` : ''}`);
}

/** The expression's line with the error under it, e.g. for the CLI and config errors: `  rate(x))\n          ^`. */
export function pointAt(source: string, error: Pick<ExprError, 'line' | 'column'>): string {
  const text = source.split('\n')[error.line - 1] ?? '';
  return `  ${text}\n  ${' '.repeat(Math.max(0, error.column - 1))}^`;
}

// ------------------------------------------------------------------------------------- lexer

type TokenKind = 'number' | 'duration' | 'string' | 'ident' | 'op' | 'punct' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  /** number: the value; duration: milliseconds. */
  value?: number;
  /** string: the text between the quotes, escapes resolved. */
  str?: string;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;
const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const OPERATORS = ['==', '!=', '=~', '!~', '>=', '<=', '>', '<', '=', '+', '-', '*', '/', '%', '^'];

function describe(token: Token): string {
  if (token.kind === 'eof') return 'end of expression';
  if (token.kind === 'string') return `string ${token.text}`;
  if (token.kind === 'number' || token.kind === 'duration') return `'${token.text}'`;
  return `'${token.text}'`;
}

function durationMs(text: string): number {
  let total = 0;
  for (const part of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  return total;
}

function lex(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
      continue;
    }
    const rest = source.slice(i);
    const duration = DURATION.exec(rest);
    if (duration && !/^[a-zA-Z0-9_.]/.test(rest.slice(duration[0].length))) {
      tokens.push({ kind: 'duration', text: duration[0], pos: i, value: durationMs(duration[0]) });
      i += duration[0].length;
      continue;
    }
    const number = NUMBER.exec(rest);
    if (number) {
      const after = rest.slice(number[0].length);
      if (/^[a-zA-Z_]/.test(after)) {
        const word = /^[a-zA-Z0-9_]+/.exec(after)![0];
        throw errorAt(source, i, `bad number or duration '${number[0]}${word}'`, 'durations are written like 30s, 5m, 1h30m, 7d (units ms, s, m, h, d, w, y)');
      }
      tokens.push({ kind: 'number', text: number[0], pos: i, value: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    const ident = IDENT.exec(rest);
    if (ident) {
      const word = ident[0];
      if (/^(inf|nan)$/i.test(word)) tokens.push({ kind: 'number', text: word, pos: i, value: /^inf$/i.test(word) ? Infinity : NaN });
      else tokens.push({ kind: 'ident', text: word, pos: i });
      i += word.length;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= source.length || (c !== '`' && source[j] === '\n')) throw errorAt(source, i, 'unterminated string', `close it with ${c}`);
        const ch = source[j]!;
        if (ch === c) break;
        if (ch === '\\' && c !== '`') {
          const next = source[j + 1];
          if (next === undefined) throw errorAt(source, i, 'unterminated string', `close it with ${c}`);
          const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '`': '`' };
          // Unknown escapes are kept as written, so regular expressions like "\d+" work unchanged.
          value += escapes[next] ?? `\\${next}`;
          j += 2;
          continue;
        }
        value += ch;
        j++;
      }
      tokens.push({ kind: 'string', text: source.slice(i, j + 1), pos: i, str: value });
      i = j + 1;
      continue;
    }
    const op = OPERATORS.find((candidate) => rest.startsWith(candidate));
    if (op) {
      tokens.push({ kind: 'op', text: op, pos: i });
      i += op.length;
      continue;
    }
    if ('(){}[],'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, pos: i });
      i++;
      continue;
    }
    throw errorAt(source, i, `unexpected character '${c}'`, '');
  }
  tokens.push({ kind: 'eof', text: '', pos: source.length });
  return tokens;
}

// ------------------------------------------------------------------------------------ parser

const EXPECT_OPERAND = "a number, a metric name or '('";

class Parser {
  private index = 0;
  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.index++;
    return token;
  }
  private is(text: string, kind?: TokenKind): boolean {
    const token = this.peek();
    return token.text === text && (kind === undefined || token.kind === kind) && token.kind !== 'string';
  }
  private fail(token: Token, expected: string): never {
    throw errorAt(this.source, token.pos, `unexpected ${describe(token)}`, `expected ${expected}`);
  }
  failAt(pos: number, what: string, rest = ''): never {
    throw errorAt(this.source, pos, what, rest);
  }
  private expect(text: string, expected = `'${text}'`): Token {
    if (!this.is(text)) this.fail(this.peek(), expected);
    return this.next();
  }

  parseAll(): Expr {
    if (this.peek().kind === 'eof') this.failAt(0, 'empty expression', `expected ${EXPECT_OPERAND}`);
    const expr = this.parseExpr(0);
    const rest = this.peek();
    if (rest.kind !== 'eof') this.fail(rest, 'an operator or the end of the expression');
    return expr;
  }

  private binaryOp(): string | null {
    const token = this.peek();
    if (token.kind === 'op' && token.text in PRECEDENCE) return token.text;
    if (token.kind === 'ident' && SET_OPS.includes(token.text)) return token.text;
    return null;
  }

  private parseExpr(minPrecedence: number): Expr {
    let lhs = this.parseUnary();
    for (;;) {
      const op = this.binaryOp();
      if (op === null) return lhs;
      const precedence = PRECEDENCE[op]!;
      if (precedence < minPrecedence) return lhs;
      const opToken = this.next();
      let bool = false;
      if (this.is('bool', 'ident')) {
        const boolToken = this.next();
        if (!COMPARISONS.includes(op)) this.failAt(boolToken.pos, "'bool' only follows a comparison", `write it after ==, !=, >, <, >= or <=, not after '${op}'`);
        bool = true;
      }
      const matching = this.parseMatching(op);
      const rhs = this.parseExpr(op === '^' ? precedence : precedence + 1);
      lhs = { kind: 'binary', op: op as BinaryOp, lhs, rhs, bool, matching, pos: opToken.pos };
    }
  }

  private parseMatching(op: string): VectorMatching {
    const matching: VectorMatching = { on: false, labels: [], group: null };
    if (this.is('on', 'ident') || this.is('ignoring', 'ident')) {
      matching.on = this.next().text === 'on';
      matching.labels = this.parseLabelList();
      if (this.is('group_left', 'ident') || this.is('group_right', 'ident')) {
        const token = this.next();
        if (SET_OPS.includes(op)) this.failAt(token.pos, `'${token.text}' cannot be used with '${op}'`, 'set operators match many-to-many already');
        const include = this.is('(', 'punct') ? this.parseLabelList() : [];
        matching.group = { side: token.text === 'group_left' ? 'left' : 'right', include };
      }
    } else if (this.is('group_left', 'ident') || this.is('group_right', 'ident')) {
      this.failAt(this.peek().pos, `'${this.peek().text}' needs on(…) or ignoring(…) before it`, `e.g. '* on(host) group_left(name)'`);
    }
    return matching;
  }

  private parseLabelList(): string[] {
    this.expect('(', "'(' and a list of label names");
    const labels: string[] = [];
    while (!this.is(')', 'punct')) {
      const token = this.peek();
      if (token.kind !== 'ident' || token.text.includes(':')) this.fail(token, labels.length === 0 ? "a label name or ')'" : 'a label name');
      labels.push(this.next().text);
      if (this.is(',', 'punct')) this.next();
      else if (!this.is(')', 'punct')) this.fail(this.peek(), "',' or ')'");
    }
    this.next();
    return labels;
  }

  private parseUnary(): Expr {
    if (this.is('-', 'op') || this.is('+', 'op')) {
      const token = this.next();
      const expr = this.parseExpr(UNARY_PRECEDENCE);
      if (token.text === '-' && expr.kind === 'number') return { kind: 'number', value: -expr.value, pos: token.pos };
      return { kind: 'unary', op: token.text as '-' | '+', expr, pos: token.pos };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePostfix(expr: Expr): Expr {
    while (this.is('[', 'punct')) {
      const open = this.next();
      if (expr.kind !== 'selector' || expr.rangeMs !== null) {
        this.failAt(open.pos, "a range '[…]' can only follow a metric selector", 'e.g. node_cpu_seconds_total[5m]');
      }
      const duration = this.peek();
      if (duration.kind !== 'duration') this.fail(duration, 'a duration such as 5m');
      this.next();
      if (duration.value === 0) this.failAt(duration.pos, 'a range of zero length', 'write e.g. [5m]');
      this.expect(']');
      expr = { ...expr, rangeMs: duration.value! };
    }
    if (this.is('offset', 'ident') || this.is('@', 'op')) this.failAt(this.peek().pos, `'${this.peek().text}' is not supported`, 'rules are evaluated at the present moment');
    return expr;
  }

  private parsePrimary(): Expr {
    const token = this.peek();
    if (token.kind === 'number') {
      this.next();
      return { kind: 'number', value: token.value!, pos: token.pos };
    }
    if (token.kind === 'duration') {
      this.next();
      return { kind: 'number', value: token.value! / 1000, pos: token.pos };
    }
    if (token.kind === 'punct' && token.text === '(') {
      this.next();
      if (this.is(')', 'punct')) this.fail(this.peek(), EXPECT_OPERAND);
      const expr = this.parseExpr(0);
      this.expect(')', "')' or an operator");
      return { kind: 'paren', expr, pos: token.pos };
    }
    if (token.kind === 'punct' && token.text === '{') {
      this.failAt(token.pos, 'a selector without a metric name', 'write the name before the braces, e.g. up{job="agent"}');
    }
    if (token.kind === 'string') this.failAt(token.pos, `unexpected ${describe(token)}`, `strings appear only as label values inside {…}; expected ${EXPECT_OPERAND}`);
    if (token.kind === 'ident') {
      const next = this.peek(1);
      if ((AGGREGATIONS as readonly string[]).includes(token.text) && (next.text === '(' || next.text === 'by' || next.text === 'without') && next.kind !== 'string') {
        return this.parseAggregation();
      }
      if (next.kind === 'punct' && next.text === '(') return this.parseCall();
      if (SET_OPS.includes(token.text) || ['bool', 'on', 'ignoring', 'by', 'without', 'group_left', 'group_right', 'offset'].includes(token.text)) {
        this.fail(token, EXPECT_OPERAND);
      }
      return this.parseSelector();
    }
    this.fail(token, EXPECT_OPERAND);
  }

  private parseAggregation(): Expr {
    const token = this.next();
    let grouping: { without: boolean; labels: string[] } | null = null;
    const parseGrouping = () => {
      const word = this.next();
      if (grouping) this.failAt(word.pos, `a second '${word.text}'`, 'give by(…) or without(…) once');
      grouping = { without: word.text === 'without', labels: this.parseLabelList() };
    };
    if (this.is('by', 'ident') || this.is('without', 'ident')) parseGrouping();
    this.expect('(', `'(' after ${token.text}`);
    if (this.is(')', 'punct')) this.fail(this.peek(), `an expression to aggregate with ${token.text}`);
    const expr = this.parseExpr(0);
    this.expect(')', "')' or an operator");
    if (this.is('by', 'ident') || this.is('without', 'ident')) parseGrouping();
    return { kind: 'aggregate', op: token.text as AggregationOp, expr, grouping, pos: token.pos };
  }

  private parseCall(): Expr {
    const token = this.next();
    if (!Object.hasOwn(FUNCTIONS, token.text)) {
      this.failAt(token.pos, `unknown function '${token.text}'`, `known functions are ${[...Object.keys(FUNCTIONS), ...AGGREGATIONS].sort().join(', ')}`);
    }
    this.next(); // (
    const args: Expr[] = [];
    while (!this.is(')', 'punct')) {
      if (args.length > 0) this.expect(',', "',' or ')'");
      args.push(this.parseExpr(0));
    }
    this.next();
    return { kind: 'call', func: token.text as FunctionName, args, pos: token.pos };
  }

  private parseSelector(): Expr {
    const token = this.next();
    const matchers: LabelMatcher[] = [];
    if (this.is('{', 'punct')) {
      this.next();
      while (!this.is('}', 'punct')) {
        const label = this.peek();
        if (label.kind !== 'ident' || label.text.includes(':')) this.fail(label, matchers.length === 0 ? "a label name or '}'" : 'a label name');
        this.next();
        const op = this.peek();
        if (op.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(op.text)) this.fail(op, "a label matcher: =, !=, =~ or !~");
        this.next();
        const value = this.peek();
        if (value.kind !== 'string') this.fail(value, 'a quoted label value such as "node1"');
        this.next();
        const text = value.str!;
        if (op.text === '=~' || op.text === '!~') {
          try {
            new RegExp(`^(?:${text})$`);
          } catch (error) {
            this.failAt(value.pos, `bad regular expression ${value.text}`, error instanceof Error ? error.message.replace(/^Invalid regular expression: /, '') : String(error));
          }
        }
        matchers.push({ name: label.text, op: op.text as LabelMatchOp, value: text });
        if (this.is(',', 'punct')) this.next();
        else if (!this.is('}', 'punct')) this.fail(this.peek(), "',' or '}'");
      }
      this.next();
    }
    return { kind: 'selector', name: token.text, matchers, rangeMs: null, pos: token.pos };
  }
}

// ------------------------------------------------------------------------------- type check

const TYPE_WORDS: Record<ValueType, string> = { scalar: 'a number (scalar)', vector: 'an instant vector', matrix: 'a range vector' };

/** The type of a parsed expression; throws ExprError where operands do not fit. */
function typeOf(source: string, expr: Expr): ValueType {
  const fail = (pos: number, what: string, rest: string): never => {
    throw errorAt(source, pos, what, rest);
  };
  switch (expr.kind) {
    case 'number':
      return 'scalar';
    case 'selector':
      return expr.rangeMs === null ? 'vector' : 'matrix';
    case 'paren':
      return typeOf(source, expr.expr);
    case 'unary': {
      const type = typeOf(source, expr.expr);
      if (type === 'matrix') fail(expr.pos, `unary '${expr.op}' cannot apply to a range vector`, 'apply a function such as rate() to it first');
      return type;
    }
    case 'aggregate': {
      const type = typeOf(source, expr.expr);
      if (type !== 'vector') fail(expr.pos, `${expr.op}() needs an instant vector`, `not ${TYPE_WORDS[type]}${type === 'matrix' ? '; wrap it in a function such as rate() or avg_over_time()' : ''}`);
      return 'vector';
    }
    case 'call': {
      const spec = FUNCTIONS[expr.func];
      if (expr.args.length !== spec.args.length) {
        const wanted = spec.args.length === 0 ? 'no arguments' : spec.args.length === 1 ? `1 argument (${TYPE_WORDS[spec.args[0]!]})` : `${spec.args.length} arguments (${spec.args.map((t) => TYPE_WORDS[t]).join(', ')})`;
        fail(expr.pos, `${expr.func}() takes ${wanted}`, `it was given ${expr.args.length}`);
      }
      expr.args.forEach((arg, index) => {
        const type = typeOf(source, arg);
        const wanted = spec.args[index]!;
        if (type !== wanted) {
          const hint = wanted === 'matrix' && type === 'vector' && arg.kind === 'selector' ? `; add a range, e.g. ${arg.name}[5m]` : wanted === 'vector' && type === 'matrix' ? '; drop the [range] or use a *_over_time function' : '';
          fail(arg.pos, `argument ${index + 1} of ${expr.func}() must be ${TYPE_WORDS[wanted]}`, `not ${TYPE_WORDS[type]}${hint}`);
        }
      });
      return spec.returns;
    }
    case 'binary': {
      const left = typeOf(source, expr.lhs);
      const right = typeOf(source, expr.rhs);
      for (const [type, side] of [[left, expr.lhs], [right, expr.rhs]] as const) {
        if (type === 'matrix') fail(side.pos, `a range vector cannot be an operand of '${expr.op}'`, 'apply a function such as rate(), increase() or avg_over_time() to it');
      }
      if (SET_OPS.includes(expr.op) && (left !== 'vector' || right !== 'vector')) {
        fail(expr.pos, `'${expr.op}' needs instant vectors on both sides`, 'not a number');
      }
      const hasMatching = expr.matching.on || expr.matching.labels.length > 0 || expr.matching.group !== null;
      if (hasMatching && (left !== 'vector' || right !== 'vector')) fail(expr.pos, 'on(…)/ignoring(…) need instant vectors on both sides', '');
      if (COMPARISONS.includes(expr.op) && left === 'scalar' && right === 'scalar' && !expr.bool) {
        fail(expr.pos, `comparing two numbers needs 'bool'`, `write e.g. '1 ${expr.op} bool 2'`);
      }
      return left === 'scalar' && right === 'scalar' ? 'scalar' : 'vector';
    }
  }
}

export interface ParsedExpr {
  ast: Expr;
  type: ValueType;
}

/** Parses and type-checks an expression; throws ExprError with the position of the first problem. */
export function parseExpr(source: string): ParsedExpr {
  const ast = new Parser(source, lex(source)).parseAll();
  const type = typeOf(source, ast);
  if (type === 'matrix') throw errorAt(source, ast.pos, 'a range vector cannot be the result of a rule', 'apply a function such as rate() or max_over_time() to it');
  return { ast, type };
}

/** The metric names an expression reads (for `keisan alerts rules` and tests). */
export function selectorsOf(expr: Expr): string[] {
  switch (expr.kind) {
    case 'selector':
      return [expr.name];
    case 'number':
      return [];
    case 'paren':
    case 'unary':
    case 'aggregate':
      return selectorsOf(expr.expr);
    case 'call':
      return expr.args.flatMap(selectorsOf);
    case 'binary':
      return [...selectorsOf(expr.lhs), ...selectorsOf(expr.rhs)];
  }
}
