// A Server-Sent Events parser (the subset Cairn sends: id, event, data, retry, comments), fed
// with text chunks as they arrive. Lines are bounded so a broken stream cannot grow memory.
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

const LINE_CHARS_MAX = 64 * 1024 * 1024;

export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;

  /** Returns the messages completed by this chunk. Throws when a line exceeds the bound. */
  push(chunk: string): SseMessage[] {
    this.#buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const newline = this.#buffer.search(/\r\n|\r|\n/);
      if (newline < 0) break;
      // A CR at the end of the chunk may be the first half of a CRLF: wait for the next chunk.
      if (newline === this.#buffer.length - 1 && this.#buffer.endsWith('\r')) break;
      const line = this.#buffer.slice(0, newline);
      const width = this.#buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.#buffer = this.#buffer.slice(newline + width);
      const message = this.#line(line);
      if (message !== undefined) messages.push(message);
    }
    if (this.#buffer.length > LINE_CHARS_MAX) throw new Error('an event-stream line is too long');
    return messages;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') {
      if (this.#data.length === 0 && this.#id === undefined) {
        this.#event = '';
        return undefined;
      }
      const message = { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id };
      this.#event = '';
      this.#data = [];
      this.#id = undefined;
      return message;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id') this.#id = value;
    return undefined;
  }
}
