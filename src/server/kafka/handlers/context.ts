// What every request handler gets: the broker's shared state and the request's own facts.
import type { BrokerCore } from '../broker-core.ts';

export interface RequestContext {
  readonly core: BrokerCore;
  /** The request's API version (the response is encoded at the same version). */
  readonly version: number;
  readonly clientId: string;
  /** The client's address as this broker sees it (DescribeGroups). */
  readonly clientHost: string;
  /**
   * Runs `step` after the steps queued before it on this connection have run (not completed:
   * run), so pipelined Produce requests issue their proposals in the order they arrived even when
   * one of them first waits for a topic to be auto-created.
   */
  readonly inOrder: <T>(step: () => T | Promise<T>) => Promise<T>;
}
