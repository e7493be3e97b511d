/**
 * A rule's path, compiled once when the rule is set: `*` (everything), an exact path, or
 * segments where `:name` matches one non-empty segment and a final `*` matches the prefix
 * and anything below it (`/admin/*` matches `/admin`, `/admin/x`, `/admin/x/y`).
 *
 * @internal
 */
export class PathMatcher {
  readonly #any: boolean;
  readonly #exact: string | undefined;
  readonly #segments: readonly string[] | undefined;
  readonly #prefix: boolean;

  constructor(pattern: string) {
    this.#any = pattern === '*';
    const segments = pattern.split('/');
    const prefix = segments[segments.length - 1] === '*';
    if (prefix) segments.pop();
    const params = segments.some((s) => s.startsWith(':'));
    this.#prefix = prefix;
    this.#exact = !this.#any && !prefix && !params ? pattern : undefined;
    this.#segments = this.#any || this.#exact !== undefined ? undefined : segments;
  }

  /** Whether `path` (a URL path without its query, or a route pattern such as `/users/:id`) matches. */
  matches(path: string): boolean {
    if (this.#any) return true;
    if (this.#exact !== undefined) return path === this.#exact;
    const expected = this.#segments!;
    const actual = path.split('/');
    if (this.#prefix ? actual.length < expected.length : actual.length !== expected.length) return false;
    for (let i = 1; i < expected.length; i++) {
      const want = expected[i]!;
      const got = actual[i]!;
      if (want.startsWith(':') ? got.length === 0 : want !== got) return false;
    }
    return true;
  }
}
