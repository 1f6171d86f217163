/** A session's sealed entries cut into the blocks its seals close, each linked to the one before. */
import { genesisLink, type ChainSegment } from '../../protocol/index.js';

export async function chainSegments(node: string, session: string, entries: readonly string[], seals: readonly ChainSegment['seal'][]): Promise<ChainSegment[]> {
  let previousLink = await genesisLink(node, session);
  let from = 0;
  return seals.map((seal) => {
    const segment = { previousLink, entries: entries.slice(from, seal.to), seal };
    previousLink = seal.link;
    from = seal.to;
    return segment;
  });
}
