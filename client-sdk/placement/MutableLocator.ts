/**
 * A locator whose node list the owner changes at run time: apps that learn of nodes by their own
 * means, and tests and benches that make nodes appear and vanish without a discovery service.
 */
import type { NodeCandidate, NodeLocator, ProbeReport, Shortlist } from './locator.js';

export class MutableLocator implements NodeLocator {
  #shortlist: Shortlist;
  /** What sessions measured, newest last (bounded), so tests can see probes happened. */
  readonly reports: ProbeReport[] = [];

  constructor(shortlist: Partial<Shortlist> = {}) {
    this.#shortlist = { edge: [...(shortlist.edge ?? [])], cloud: [...(shortlist.cloud ?? [])] };
  }

  async shortlist(): Promise<Shortlist> {
    return { edge: [...this.#shortlist.edge], cloud: [...this.#shortlist.cloud] };
  }

  report(reports: ProbeReport[]): void {
    this.reports.push(...reports);
    if (this.reports.length > 1000) this.reports.splice(0, this.reports.length - 1000);
  }

  set(shortlist: Partial<Shortlist>): void {
    this.#shortlist = { edge: [...(shortlist.edge ?? [])], cloud: [...(shortlist.cloud ?? [])] };
  }

  add(candidate: NodeCandidate): void {
    const list = candidate.tier === 'edge' ? this.#shortlist.edge : this.#shortlist.cloud;
    const index = list.findIndex((c) => c.id === candidate.id);
    if (index >= 0) list[index] = candidate;
    else list.push(candidate);
  }

  remove(id: string): void {
    this.#shortlist.edge = this.#shortlist.edge.filter((c) => c.id !== id);
    this.#shortlist.cloud = this.#shortlist.cloud.filter((c) => c.id !== id);
  }
}
