import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRateLimit, parseRateLimitPolicy, rateLimitWaitMs, type RateLimitState } from './rate-limit.ts';

describe('parseRateLimitPolicy', () => {
  it('reads the draft examples', () => {
    expect(parseRateLimitPolicy('"burst";q=100;w=60,"daily";q=1000;w=86400')).toEqual([
      { name: 'burst', quota: 100, windowSeconds: 60 },
      { name: 'daily', quota: 1000, windowSeconds: 86400 },
    ]);
    expect(parseRateLimitPolicy('"default";q=100;w=10')).toEqual([{ name: 'default', quota: 100, windowSeconds: 10 }]);
    expect(parseRateLimitPolicy('"permin";q=50;w=60,"perhr";q=1000;w=3600')).toEqual([
      { name: 'permin', quota: 50, windowSeconds: 60 },
      { name: 'perhr', quota: 1000, windowSeconds: 3600 },
    ]);
    // The draft's partition keys have non-zero pad bits; the bytes they carry are what counts.
    expect(parseRateLimitPolicy('"peruser";q=100;w=60;pk=:cHsdsRa894==:')).toEqual([
      { name: 'peruser', quota: 100, windowSeconds: 60, partitionKey: 'cHsdsRa89w==' },
    ]);
    expect(parseRateLimitPolicy('"peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:')).toEqual([
      { name: 'peruser', quota: 65535, quotaUnit: 'content-bytes', windowSeconds: 10, partitionKey: 'sdfjLJUOUA==' },
    ]);
  });

  it('reads a partition key as its bytes, in canonical base64', () => {
    // RFC 9651 §4.2.7: parsers should not fail on non-zero pad bits, and may accept missing
    // padding; either way the value is the byte sequence, so equal bytes give equal keys.
    const keys = ['AQI', 'AQI=', 'AQJ='].map((pk) => parseRateLimitPolicy(`"p";pk=:${pk}:`)[0]?.partitionKey);
    expect(keys).toEqual(['AQI=', 'AQI=', 'AQI=']);
    expect(parseRateLimit('"p";r=1;pk=::')).toEqual([{ name: 'p', remaining: 1, partitionKey: '' }]);
  });

  it('leaves absent parameters out and ignores unknown ones', () => {
    const [policy] = parseRateLimitPolicy('"p";q=5;acme-burst=100;comment="fixed window";flag');
    expect(policy).toStrictEqual({ name: 'p', quota: 5 });
    expect(parseRateLimitPolicy('"p"')).toStrictEqual([{ name: 'p' }]);
  });

  it('accepts a token as the policy name', () => {
    expect(parseRateLimitPolicy('burst;q=100;w=60, daily;q=1000;w=86400')).toEqual([
      { name: 'burst', quota: 100, windowSeconds: 60 },
      { name: 'daily', quota: 1000, windowSeconds: 86400 },
    ]);
  });

  it('combines duplicate header lines', () => {
    expect(parseRateLimitPolicy(['"a";q=1;w=1', '"b";q=2;w=2'])).toEqual([
      { name: 'a', quota: 1, windowSeconds: 1 },
      { name: 'b', quota: 2, windowSeconds: 2 },
    ]);
  });

  it.each([
    ['negative quota', '"p";q=-1;w=60'],
    ['decimal quota', '"p";q=1.5;w=60'],
    ['string quota', '"p";q="100";w=60'],
    ['boolean quota', '"p";q;w=60'],
    ['negative window', '"p";q=1;w=-60'],
    ['token window', '"p";q=1;w=sixty'],
    ['non-string quota unit', '"p";q=1;qu=requests'],
    ['non-binary partition key', '"p";q=1;pk="user-1"'],
    ['integer name (draft-07 policy form)', '100;w=60'],
    ['inner list', '("a" "b");q=1'],
  ])('skips a member with a %s, keeping the others', (_, member) => {
    expect(parseRateLimitPolicy(`"ok";q=1, ${member}`)).toEqual([{ name: 'ok', quota: 1 }]);
  });
});

describe('parseRateLimit', () => {
  it('reads the draft examples', () => {
    expect(parseRateLimit('"default";r=50;t=30')).toEqual([{ name: 'default', remaining: 50, resetSeconds: 30 }]);
    expect(parseRateLimit('"default";r=999;pk=:dHJpYWwxMjEzMjM=:')).toEqual([
      { name: 'default', remaining: 999, partitionKey: 'dHJpYWwxMjEzMjM=' },
    ]);
    expect(parseRateLimit('"default";r=300000000;t=60;pk=:QXBwLTk5OQ==:')).toEqual([
      { name: 'default', remaining: 300000000, resetSeconds: 60, partitionKey: 'QXBwLTk5OQ==' },
    ]);
    expect(parseRateLimit('"problemPolicy";r=0;t=10')).toEqual([
      { name: 'problemPolicy', remaining: 0, resetSeconds: 10 },
    ]);
  });

  it('reads the draft-07 dictionary form as one unnamed state', () => {
    expect(parseRateLimit('limit=100, remaining=50, reset=5')).toStrictEqual([{ remaining: 50, resetSeconds: 5 }]);
    expect(parseRateLimit('limit=10, remaining=0, reset=10')).toStrictEqual([{ remaining: 0, resetSeconds: 10 }]);
    expect(parseRateLimit('reset=10,remaining=1')).toStrictEqual([{ remaining: 1, resetSeconds: 10 }]);
    expect(parseRateLimit('remaining=3;x=1, acme=?1')).toStrictEqual([{ remaining: 3 }]);
    // Starts like a List (a bare key is a Token there): read as a Dictionary once the List fails.
    expect(parseRateLimit('acme, remaining=2, reset=3')).toStrictEqual([{ remaining: 2, resetSeconds: 3 }]);
  });

  it('rejects a draft-07 dictionary without a usable remaining', () => {
    expect(parseRateLimit('limit=100, reset=5')).toEqual([]);
    expect(parseRateLimit('limit=100, remaining=-1, reset=5')).toEqual([]);
    expect(parseRateLimit('limit=100, remaining=1, reset=2.5')).toEqual([]);
    expect(parseRateLimit('limit="100", remaining=1, reset=5')).toEqual([]);
    expect(parseRateLimit('limit=100, remaining=(1 2), reset=5')).toEqual([]);
  });

  it('lets a repeated key or parameter overwrite, as RFC 9651 does', () => {
    expect(parseRateLimit('"a";r=1;r=2')).toEqual([{ name: 'a', remaining: 2 }]);
    expect(parseRateLimit('remaining=1, remaining=0, reset=4')).toEqual([{ remaining: 0, resetSeconds: 4 }]);
  });

  it('allows optional whitespace around members and after semicolons', () => {
    expect(parseRateLimit('  "a";r=1 ,\t"b"; r=2;  t=3  ')).toEqual([
      { name: 'a', remaining: 1 },
      { name: 'b', remaining: 2, resetSeconds: 3 },
    ]);
  });

  it('combines duplicate header lines, dropping empty ones', () => {
    expect(parseRateLimit(['"a";r=1', '"b";r=0;t=5'])).toEqual([
      { name: 'a', remaining: 1 },
      { name: 'b', remaining: 0, resetSeconds: 5 },
    ]);
    expect(parseRateLimit(['', '"a";r=1', '  '])).toEqual([{ name: 'a', remaining: 1 }]);
    expect(parseRateLimit([])).toEqual([]);
  });

  it('reads escapes in names and all the other bare-item types in unknown parameters', () => {
    expect(parseRateLimit('"a \\"b\\" \\\\c";r=1')).toEqual([{ name: 'a "b" \\c', remaining: 1 }]);
    const others = ';d=1.5;e=-0.125;f=?0;g=?1;i=%"caf%c3%a9";j=tok/en:1;k=*;l=:AQID:;m=-7;h=@1659578233';
    expect(parseRateLimit(`"a";r=1${others}`)).toEqual([{ name: 'a', remaining: 1 }]);
  });

  it('ignores a field with a Date anywhere but at its end (a limit of structured-headers 2.1.0)', () => {
    // RFC 9651 allows this field; the library reads a Date up to the end of the input. Neither
    // RateLimit field defines a Date, so only an unknown extension parameter can meet this.
    // If this starts failing, the library reads Dates as the RFC does: expect the member.
    expect(parseRateLimit('"a";r=0;t=5;h=@1659578233')).toEqual([{ name: 'a', remaining: 0, resetSeconds: 5 }]);
    expect(parseRateLimit('"a";r=0;h=@1659578233;t=5')).toEqual([]);
  });

  it('reads a Decimal with a zero fraction as the Integer it equals (a limit of structured-headers)', () => {
    // The library parses both to a JavaScript number, so `1.0` and `1` cannot be told apart;
    // a real fraction is still refused.
    expect(parseRateLimit('"a";r=1.0;t=2.000')).toEqual([{ name: 'a', remaining: 1, resetSeconds: 2 }]);
    expect(parseRateLimit('"a";r=1.5')).toEqual([]);
  });

  it('ignores a field with non-ASCII inside a Display String', () => {
    // RFC 9651 §4.2 fails the whole field on any non-ASCII byte; Display Strings carry
    // Unicode only as %-escaped UTF-8.
    expect(parseRateLimit('"a";r=1;x=%"caf\u00e9"')).toEqual([]);
    expect(parseRateLimit('"a";r=1;x=%"\u{1F600}"')).toEqual([]);
  });

  it('reads -0 as 0', () => {
    expect(parseRateLimit('"a";r=-0;t=-0')).toStrictEqual([{ name: 'a', remaining: 0, resetSeconds: 0 }]);
  });

  it('accepts the largest Structured Fields integer', () => {
    expect(parseRateLimit('"a";r=999999999999999')).toEqual([{ name: 'a', remaining: 999_999_999_999_999 }]);
  });

  it.each([
    ['missing remaining', '"p";t=10'],
    ['negative remaining', '"p";r=-1'],
    ['decimal remaining', '"p";r=1.5'],
    ['string remaining', '"p";r="1"'],
    ['boolean remaining', '"p";r'],
    ['negative reset', '"p";r=0;t=-5'],
    ['decimal reset', '"p";r=0;t=0.5'],
    ['non-binary partition key', '"p";r=0;pk=abc'],
    ['numeric name', '1;r=0'],
    ['boolean name', '?1;r=0'],
    ['binary name', ':AQID:;r=0'],
    ['inner list', '("p");r=0'],
  ])('skips a member with a %s, keeping the others', (_, member) => {
    expect(parseRateLimit(`"ok";r=1, ${member}`)).toEqual([{ name: 'ok', remaining: 1 }]);
  });

  it.each([
    ['trailing comma', '"a";r=1,'],
    ['leading comma', ',"a";r=1'],
    ['empty member', '"a";r=1,,"b";r=2'],
    ['unterminated string', '"a;r=1'],
    ['invalid escape', '"a\\n";r=1'],
    ['control character in a string', '"a\tb";r=1'],
    ['non-ASCII in a string', '"café";r=1'],
    ['non-ASCII outside a string', '"a";r=1, é'],
    ['emoji', '"😀";r=1'],
    ['space before a parameter', '"a" ;r=1'],
    ['space around =', '"a";r = 1'],
    ['upper-case parameter key', '"a";R=1'],
    ['parameter key starting with a digit', '"a";1r=1'],
    ['missing parameter value', '"a";r='],
    ['16-digit integer', '"a";r=1000000000000000'],
    ['lone minus', '"a";r=-'],
    ['decimal without fraction', '"a";r=1.'],
    ['decimal with 4 fraction digits', '"a";r=1.1234'],
    ['decimal with 13 integer digits', '"a";r=1234567890123.1'],
    ['bad boolean', '"a";r=1;x=?2'],
    ['date that is a decimal', '"a";r=1;x=@1.5'],
    ['binary with a bad character', '"a";r=1;pk=:ab!c:'],
    ['binary with misplaced padding', '"a";r=1;pk=:ab=c:'],
    ['binary of impossible length', '"a";r=1;pk=:abcde:'],
    ['unterminated binary', '"a";r=1;pk=:abc'],
    ['display string with upper-case hex', '"a";r=1;x=%"caf%C3%A9"'],
    ['display string that is not UTF-8', '"a";r=1;x=%"%c3"'],
    ['unterminated inner list', '("a" "b";r=1'],
    ['inner list without space between items', '("a""b")'],
    ['two items without a comma', '"a";r=1 "b";r=2'],
    ['garbage after a member', '"a";r=1 x'],
    ['draft-07 dictionary with a quoted key', '"limit"=100, remaining=0'],
    ['mixed forms', '"a";r=1, remaining=0'],
    ['bare garbage', '{}'],
  ])('ignores the whole field on a syntax error: %s', (_, field) => {
    expect(parseRateLimit(field)).toEqual([]);
    expect(parseRateLimitPolicy(field.replaceAll('r=', 'q='))).toEqual([]);
  });

  it('is empty for absent, empty or non-string values', () => {
    expect(parseRateLimit(undefined)).toEqual([]);
    expect(parseRateLimit('')).toEqual([]);
    expect(parseRateLimit('   ')).toEqual([]);
    for (const value of [null, 42, {}, [42], ['"a";r=1', null], Symbol('x')]) {
      expect(parseRateLimit(value as unknown as string)).toEqual([]);
      expect(parseRateLimitPolicy(value as unknown as string)).toEqual([]);
    }
  });
});

describe('rateLimitWaitMs', () => {
  it('waits out an exhausted policy', () => {
    expect(rateLimitWaitMs({ ratelimit: '"problemPolicy";r=0;t=10' })).toBe(10_000);
    expect(rateLimitWaitMs({ ratelimit: '"default";r=0;t=0' })).toBe(0);
  });

  it('takes the longest wait among exhausted policies, ignoring ones with quota left', () => {
    const ratelimit = '"burst";r=0;t=5, "daily";r=0;t=3600, "hourly";r=10;t=7200';
    expect(rateLimitWaitMs({ ratelimit })).toBe(3_600_000);
  });

  it('reads the draft-07 form and duplicate lines', () => {
    expect(rateLimitWaitMs({ ratelimit: 'limit=10, remaining=0, reset=10' })).toBe(10_000);
    expect(rateLimitWaitMs({ ratelimit: ['"a";r=0;t=1', '"b";r=0;t=2'] })).toBe(2_000);
  });

  it('is undefined when no wait is needed or none is known', () => {
    expect(rateLimitWaitMs({ ratelimit: '"default";r=50;t=30' })).toBeUndefined();
    expect(rateLimitWaitMs({ ratelimit: '"default";r=0' })).toBeUndefined();
    expect(rateLimitWaitMs({ ratelimit: '"default";r=0;t=30,' })).toBeUndefined(); // malformed
    expect(rateLimitWaitMs({ 'ratelimit-policy': '"default";q=100;w=60' })).toBeUndefined();
    expect(rateLimitWaitMs({})).toBeUndefined();
    expect(rateLimitWaitMs(null as unknown as Record<string, string>)).toBeUndefined();
  });
});

describe('properties', () => {
  const checkStates = (states: RateLimitState[]): void => {
    expect(Array.isArray(states)).toBe(true);
    for (const state of states) {
      expect(Number.isSafeInteger(state.remaining) && state.remaining >= 0).toBe(true);
      if (state.resetSeconds !== undefined) {
        expect(Number.isSafeInteger(state.resetSeconds) && state.resetSeconds >= 0).toBe(true);
      }
    }
  };
  const checkWait = (wait: number | undefined): void => {
    expect(wait === undefined || (Number.isFinite(wait) && wait >= 0)).toBe(true);
  };
  const arbitraryText = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'grapheme' }),
    // Strings made of the grammar's own characters reach far deeper into the parser.
    fc.string({ unit: fc.constantFrom(...'"\\;=,:?@%()*- \tabqrtwpkl0123456789.') }),
  );

  it('never throws, whatever the field value', () => {
    fc.assert(
      fc.property(arbitraryText, (s) => {
        checkStates(parseRateLimit(s));
        expect(Array.isArray(parseRateLimitPolicy(s))).toBe(true);
        checkWait(rateLimitWaitMs({ ratelimit: s }));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.array(arbitraryText), (lines) => {
        checkStates(parseRateLimit(lines));
        expect(Array.isArray(parseRateLimitPolicy(lines))).toBe(true);
      }),
    );
  });

  it('never throws when a valid field is followed by anything', () => {
    fc.assert(
      fc.property(arbitraryText, (suffix) => {
        checkStates(parseRateLimit(`"a";r=0;t=5${suffix}`));
        expect(Array.isArray(parseRateLimitPolicy(`"a";q=1;w=5${suffix}`))).toBe(true);
      }),
    );
  });

  const name = fc.stringMatching(/^[a-z]{1,12}$/);
  const sfInteger = fc.integer({ min: 0, max: 999_999_999_999_999 });

  it('round-trips formatted RateLimit-Policy members', () => {
    // Spread: fc.record may build null-prototype objects, which toStrictEqual tells apart.
    const policy = fc.record({ name, quota: sfInteger, windowSeconds: sfInteger }).map((p) => ({ ...p }));
    fc.assert(
      fc.property(fc.array(policy, { minLength: 1, maxLength: 5 }), (policies) => {
        const header = policies.map((p) => `"${p.name}";q=${p.quota};w=${p.windowSeconds}`).join(', ');
        expect(parseRateLimitPolicy(header)).toStrictEqual(policies);
      }),
    );
  });

  it('round-trips formatted RateLimit members, in either header shape', () => {
    const state = fc.record({ name, remaining: sfInteger, resetSeconds: sfInteger }).map((s) => ({ ...s }));
    fc.assert(
      fc.property(fc.array(state, { minLength: 1, maxLength: 5 }), fc.boolean(), (states, split) => {
        const members = states.map((s) => `"${s.name}";r=${s.remaining};t=${s.resetSeconds}`);
        expect(parseRateLimit(split ? members : members.join(','))).toStrictEqual(states);
        const exhausted = states.filter((s) => s.remaining === 0).map((s) => s.resetSeconds * 1000);
        const expected = exhausted.length === 0 ? undefined : Math.max(...exhausted);
        expect(rateLimitWaitMs({ ratelimit: members.join(', ') })).toBe(expected);
      }),
    );
  });

  it('round-trips the draft-07 dictionary', () => {
    fc.assert(
      fc.property(sfInteger, sfInteger, sfInteger, (limit, remaining, reset) => {
        const header = `limit=${limit}, remaining=${remaining}, reset=${reset}`;
        expect(parseRateLimit(header)).toStrictEqual([{ remaining, resetSeconds: reset }]);
      }),
    );
  });
});
