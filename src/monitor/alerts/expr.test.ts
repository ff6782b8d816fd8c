import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExprError, parseExpr, pointAt, selectorsOf, type Expr } from './expr.ts';

/** The parse tree without positions, for compact comparisons. */
function shape(expr: Expr): unknown {
  switch (expr.kind) {
    case 'number':
      return expr.value;
    case 'selector':
      return { sel: expr.name, m: expr.matchers.map((m) => `${m.name}${m.op}${m.value}`), ...(expr.rangeMs !== null ? { range: expr.rangeMs } : {}) };
    case 'paren':
      return shape(expr.expr);
    case 'unary':
      return { [expr.op]: shape(expr.expr) };
    case 'aggregate':
      return { [expr.op]: shape(expr.expr), ...(expr.grouping ? { [expr.grouping.without ? 'without' : 'by']: expr.grouping.labels } : {}) };
    case 'call':
      return { [expr.func]: expr.args.map(shape) };
    case 'binary': {
      const m = expr.matching;
      return [shape(expr.lhs), expr.op + (expr.bool ? ' bool' : ''), shape(expr.rhs), ...(m.on || m.labels.length || m.group ? [{ [m.on ? 'on' : 'ignoring']: m.labels, ...(m.group ? { [`group_${m.group.side}`]: m.group.include } : {}) }] : [])];
    }
  }
}

const tree = (source: string) => shape(parseExpr(source).ast);

function failure(source: string): ExprError {
  try {
    parseExpr(source);
  } catch (error) {
    assert.ok(error instanceof ExprError, `${source}: ${String(error)}`);
    return error;
  }
  assert.fail(`expected '${source}' to be refused`);
}

describe('alert expressions: parsing', () => {
  it('parses selectors with every matcher, ranges and durations', () => {
    assert.deepEqual(tree('up'), { sel: 'up', m: [] });
    assert.deepEqual(tree('up{job="agent",host!="n1", mountpoint=~"/data.*" , fstype!~\'tmpfs|ramfs\',}'), {
      sel: 'up',
      m: ['job=agent', 'host!=n1', 'mountpoint=~/data.*', 'fstype!~tmpfs|ramfs'],
    });
    assert.deepEqual(tree('node:cpu:rate5m'), { sel: 'node:cpu:rate5m', m: [] });
    assert.equal(parseExpr('rate(x[1h30m])').type, 'vector');
    assert.deepEqual(tree('rate(x[1h30m])'), { rate: [{ sel: 'x', m: [], range: 5_400_000 }] });
    assert.deepEqual(tree('rate(x[500ms])'), { rate: [{ sel: 'x', m: [], range: 500 }] });
    assert.deepEqual(tree('x{a="\\"q\\" \\d"}'), { sel: 'x', m: ['a="q" \\d'] });
    assert.deepEqual(tree('x{a=`raw\\d`}'), { sel: 'x', m: ['a=raw\\d'] });
  });

  it('parses numbers, durations as seconds, and unary signs', () => {
    assert.deepEqual(tree('42'), 42);
    assert.deepEqual(tree('1.5e3'), 1500);
    assert.deepEqual(tree('0x1f'), 31);
    assert.deepEqual(tree('.5'), 0.5);
    assert.deepEqual(tree('4h'), 14_400);
    assert.deepEqual(tree('-3'), -3);
    assert.deepEqual(tree('Inf'), Infinity);
    assert.ok(Number.isNaN(tree('NaN') as number));
    assert.deepEqual(tree('-x'), { '-': { sel: 'x', m: [] } });
    assert.equal(parseExpr('1 + 2').type, 'scalar');
  });

  it('follows PromQL precedence and associativity', () => {
    assert.deepEqual(tree('1 + 2 * 3'), [1, '+', [2, '*', 3]]);
    assert.deepEqual(tree('(1 + 2) * 3'), [[1, '+', 2], '*', 3]);
    assert.deepEqual(tree('1 - 2 - 3'), [[1, '-', 2], '-', 3]);
    assert.deepEqual(tree('2 ^ 3 ^ 2'), [2, '^', [3, '^', 2]]);
    assert.deepEqual(tree('-a ^ 2'), { '-': [{ sel: 'a', m: [] }, '^', 2] });
    assert.deepEqual(tree('a > 1 and b < 2 or c'), [[[{ sel: 'a', m: [] }, '>', 1], 'and', [{ sel: 'b', m: [] }, '<', 2]], 'or', { sel: 'c', m: [] }]);
    assert.deepEqual(tree('a unless b and c'), [[{ sel: 'a', m: [] }, 'unless', { sel: 'b', m: [] }], 'and', { sel: 'c', m: [] }]);
    assert.deepEqual(tree('a + b % c'), [{ sel: 'a', m: [] }, '+', [{ sel: 'b', m: [] }, '%', { sel: 'c', m: [] }]]);
    assert.deepEqual(tree('a == bool 1'), [{ sel: 'a', m: [] }, '== bool', 1]);
    assert.deepEqual(tree('1 >= bool 2'), [1, '>= bool', 2]);
  });

  it('parses vector matching, aggregations and functions', () => {
    assert.deepEqual(tree('a / on(host, mountpoint) b'), [{ sel: 'a', m: [] }, '/', { sel: 'b', m: [] }, { on: ['host', 'mountpoint'] }]);
    assert.deepEqual(tree('a / ignoring(cpu) b'), [{ sel: 'a', m: [] }, '/', { sel: 'b', m: [] }, { ignoring: ['cpu'] }]);
    assert.deepEqual(tree('a * on(host) group_left(name) b'), [{ sel: 'a', m: [] }, '*', { sel: 'b', m: [] }, { on: ['host'], group_left: ['name'] }]);
    assert.deepEqual(tree('a * on(host) group_right b'), [{ sel: 'a', m: [] }, '*', { sel: 'b', m: [] }, { on: ['host'], group_right: [] }]);
    assert.deepEqual(tree('a > bool on(host) b'), [{ sel: 'a', m: [] }, '> bool', { sel: 'b', m: [] }, { on: ['host'] }]);
    assert.deepEqual(tree('sum by (host) (x)'), { sum: { sel: 'x', m: [] }, by: ['host'] });
    assert.deepEqual(tree('sum(x) by (host)'), { sum: { sel: 'x', m: [] }, by: ['host'] });
    assert.deepEqual(tree('avg without(cpu, mode)(x)'), { avg: { sel: 'x', m: [] }, without: ['cpu', 'mode'] });
    assert.deepEqual(tree('count(x)'), { count: { sel: 'x', m: [] } });
    assert.deepEqual(tree('min(x) + max(y)'), [{ min: { sel: 'x', m: [] } }, '+', { max: { sel: 'y', m: [] } }]);
    assert.deepEqual(tree('sum'), { sel: 'sum', m: [] }, 'an aggregation name alone is a metric');
    assert.deepEqual(tree('predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600) < 0'), [
      { predict_linear: [{ sel: 'node_filesystem_avail_bytes', m: [], range: 21_600_000 }, [4, '*', 3600]] },
      '<',
      0,
    ]);
    assert.deepEqual(tree('time()'), { time: [] });
    assert.deepEqual(tree('clamp_max(abs(x), 10)'), { clamp_max: [{ abs: [{ sel: 'x', m: [] }] }, 10] });
    assert.deepEqual(tree('absent(up{job="agent"})'), { absent: [{ sel: 'up', m: ['job=agent'] }] });
    for (const f of ['rate', 'increase', 'irate', 'delta', 'deriv', 'avg_over_time', 'min_over_time', 'max_over_time']) {
      assert.deepEqual(tree(`${f}(x[5m])`), { [f]: [{ sel: 'x', m: [], range: 300_000 }] });
    }
    assert.deepEqual(selectorsOf(parseExpr('a / on(h) b + sum(rate(c[5m]))').ast), ['a', 'b', 'c']);
  });

  it('ignores comments and spans lines', () => {
    assert.deepEqual(tree('a  # the first\n  > 1'), [{ sel: 'a', m: [] }, '>', 1]);
  });

  it('refuses bad expressions with the position and what was expected', () => {
    const cases: [string, string][] = [
      ['sum(rate(x[5m])) + ()', "unexpected ')' at column 21: expected a number, a metric name or '('"],
      ['sum(rate(x[5m])) > )', "unexpected ')' at column 20: expected a number, a metric name or '('"],
      ['', "empty expression at column 1: expected a number, a metric name or '('"],
      ['up ==', "unexpected end of expression at column 6: expected a number, a metric name or '('"],
      ['up{job="agent"', "unexpected end of expression at column 15: expected ',' or '}'"],
      ['up{job=agent}', 'unexpected \'agent\' at column 8: expected a quoted label value such as "node1"'],
      ['up{job:"x"}', "unexpected 'job:' at column 4: expected a label name or '}'"],
      ['up{job~"x"}', "unexpected character '~' at column 7"],
      ['up{job>"x"}', "unexpected '>' at column 7: expected a label matcher: =, !=, =~ or !~"],
      ['up{job="x}', 'unterminated string at column 8: close it with "'],
      ['rate(x[5m]', "unexpected end of expression at column 11: expected ',' or ')'"],
      ['rate(x[5])', "unexpected '5' at column 8: expected a duration such as 5m"],
      ['rate(x[5m)', "unexpected ')' at column 10: expected ']'"],
      ['x[5m][1m]', "a range '[…]' can only follow a metric selector at column 6: e.g. node_cpu_seconds_total[5m]"],
      ['(x)[5m]', "a range '[…]' can only follow a metric selector at column 4: e.g. node_cpu_seconds_total[5m]"],
      ['x[0s]', 'a range of zero length at column 3: write e.g. [5m]'],
      ['x[2.5m]', "bad number or duration '2.5m' at column 3: durations are written like 30s, 5m, 1h30m, 7d (units ms, s, m, h, d, w, y)"],
      ['up offset 5m', "'offset' is not supported at column 4: rules are evaluated at the present moment"],
      ['foo(x)', 'unknown function \'foo\' at column 1: known functions are abs, absent, avg, avg_over_time, clamp_max, clamp_min, count, delta, deriv, increase, irate, max, max_over_time, min, min_over_time, predict_linear, rate, sum, time'],
      ['rate(x)', 'argument 1 of rate() must be a range vector at column 6: not an instant vector; add a range, e.g. x[5m]'],
      ['abs(x[5m])', 'argument 1 of abs() must be an instant vector at column 5: not a range vector; drop the [range] or use a *_over_time function'],
      ['predict_linear(x[1h])', 'predict_linear() takes 2 arguments (a range vector, a number (scalar)) at column 1: it was given 1'],
      ['time(1)', 'time() takes no arguments at column 1: it was given 1'],
      ['sum(x[5m])', 'sum() needs an instant vector at column 1: not a range vector; wrap it in a function such as rate() or avg_over_time()'],
      ['x[5m] > 1', "a range vector cannot be an operand of '>' at column 1: apply a function such as rate(), increase() or avg_over_time() to it"],
      ['x[5m]', 'a range vector cannot be the result of a rule at column 1: apply a function such as rate() or max_over_time() to it'],
      ['1 > 2', "comparing two numbers needs 'bool' at column 3: write e.g. '1 > bool 2'"],
      ['x + bool 1', "'bool' only follows a comparison at column 5: write it after ==, !=, >, <, >= or <=, not after '+'"],
      ['x and 1', "'and' needs instant vectors on both sides at column 3: not a number"],
      ['x or group_left y', "'group_left' needs on(…) or ignoring(…) before it at column 6: e.g. '* on(host) group_left(name)'"],
      ['x * group_left y', "'group_left' needs on(…) or ignoring(…) before it at column 5: e.g. '* on(host) group_left(name)'"],
      ['x and on(a) group_left y', "'group_left' cannot be used with 'and' at column 13: set operators match many-to-many already"],
      ['x / on(host y', "unexpected 'y' at column 13: expected ',' or ')'"],
      ['sum by host (x)', "unexpected 'host' at column 8: expected '(' and a list of label names"],
      ['sum by (host) (x) by (a)', "a second 'by' at column 19: give by(…) or without(…) once"],
      ['sum()', "unexpected ')' at column 5: expected an expression to aggregate with sum"],
      ['{job="agent"}', 'a selector without a metric name at column 1: write the name before the braces, e.g. up{job="agent"}'],
      ['"text"', 'unexpected string "text" at column 1: strings appear only as label values inside {…}; expected a number, a metric name or \'(\''],
      ['up{a=~"("}', 'bad regular expression "(" at column 7: /^(?:()$/: Unterminated group'],
      ['up == 1 1', "unexpected '1' at column 9: expected an operator or the end of the expression"],
      ['up $ 1', "unexpected character '$' at column 4"],
      ['(up', "unexpected end of expression at column 4: expected ')' or an operator"],
    ];
    const wrong = cases.map(([source, message]) => [source, failure(source).message, message]).filter(([, actual, expected]) => actual !== expected);
    assert.deepEqual(wrong, []);
  });

  it('gives line and column in multi-line expressions and points at the error', () => {
    const source = 'sum by (host) (\n  rate(x[5m])\n) > )';
    const error = failure(source);
    assert.equal(error.message, "unexpected ')' at line 3, column 5: expected a number, a metric name or '('");
    assert.deepEqual([error.line, error.column, error.position], [3, 5, source.length - 1]);
    assert.equal(pointAt('rate(x[5m])) > 1', failure('rate(x[5m])) > 1')), '  rate(x[5m])) > 1\n             ^');
    assert.equal(error.reason, "unexpected ')': expected a number, a metric name or '('");
  });
});
