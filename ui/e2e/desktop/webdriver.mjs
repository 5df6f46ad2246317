// The few W3C WebDriver calls the real-window suite needs, over Node's own
// fetch: tauri-driver speaks plain W3C WebDriver on loopback, so a client
// library (and its dependency tree in the lockfile) buys nothing here.
// Every call has a deadline, so a hung driver fails the run instead of
// stalling CI.

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

function ref(v) {
  const id = v?.[ELEMENT];
  if (!id) throw new Error(`not an element reference: ${JSON.stringify(v)}`);
  return id;
}

/** Key codes from the W3C spec (§17.4.2). */
export const Key = {
  Null: '\uE000',
  Enter: '\uE007',
  Escape: '\uE00C',
  Delete: '\uE017',
  Control: '\uE009',
  Shift: '\uE008',
};

export class WebDriverError extends Error {
  constructor(method, path, status, value) {
    super(`${method} ${path} → ${status}: ${value?.error ?? ''} ${value?.message ?? ''}`.trim());
    this.error = value?.error;
  }
}

async function request(base, method, path, body, timeoutMs = 30_000) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : {};
  if (!res.ok) throw new WebDriverError(method, path, res.status, json.value);
  return json.value;
}

/** Polls `fn` until it returns a truthy value (or stops throwing). */
export async function eventually(fn, what, { timeoutMs = 10_000, intervalMs = 100 } = {}) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export class Session {
  static async start(base, application, args = []) {
    const value = await request(
      base,
      'POST',
      '/session',
      { capabilities: { alwaysMatch: { 'tauri:options': { application, args } } } },
      60_000,
    );
    const s = new Session(base, value.sessionId);
    return s;
  }

  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  call(method, path, body, timeoutMs) {
    return request(this.base, method, `/session/${this.id}${path}`, body, timeoutMs);
  }

  async find(css) {
    const v = await this.call('POST', '/element', { using: 'css selector', value: css });
    return new Element(this, ref(v));
  }

  async findAll(css) {
    const v = await this.call('POST', '/elements', { using: 'css selector', value: css });
    return v.map((e) => new Element(this, ref(e)));
  }

  /** Waits for an element to exist (the UI renders asynchronously). */
  waitFor(css, timeoutMs = 10_000) {
    return eventually(() => this.find(css), css, { timeoutMs });
  }

  async active() {
    const v = await this.call('GET', '/element/active');
    return new Element(this, ref(v));
  }

  /** Keys to whatever has the focus (shortcuts are handled on the window). */
  async press(text) {
    await (await this.active()).type(text);
  }

  exec(script, ...args) {
    return this.call('POST', '/execute/sync', { script, args });
  }

  async screenshotPng(timeoutMs = 60_000) {
    return Buffer.from(await this.call('GET', '/screenshot', undefined, timeoutMs), 'base64');
  }

  async close() {
    await request(this.base, 'DELETE', `/session/${this.id}`, undefined, 30_000);
  }
}

export class Element {
  constructor(session, id) {
    this.s = session;
    this.id = id;
  }

  /** As a script argument: the W3C web element reference. */
  toJSON() {
    return { [ELEMENT]: this.id };
  }

  click() {
    return this.s.call('POST', `/element/${this.id}/click`, {});
  }

  type(text) {
    return this.s.call('POST', `/element/${this.id}/value`, { text });
  }

  clear() {
    return this.s.call('POST', `/element/${this.id}/clear`, {});
  }

  text() {
    return this.s.call('GET', `/element/${this.id}/text`);
  }

  attr(name) {
    return this.s.call('GET', `/element/${this.id}/attribute/${encodeURIComponent(name)}`);
  }

  async find(css) {
    const v = await this.s.call('POST', `/element/${this.id}/element`, {
      using: 'css selector',
      value: css,
    });
    return new Element(this.s, ref(v));
  }

  async findAll(css) {
    const v = await this.s.call('POST', `/element/${this.id}/elements`, {
      using: 'css selector',
      value: css,
    });
    return v.map((e) => new Element(this.s, ref(e)));
  }
}
