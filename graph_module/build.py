"""Building the graph and the node features in one walk along the optical-flow chains."""
from graph_module.chains import walk_chains
from graph_module.features import NodeFeatureBuilder, normalise_blocks
from graph_module.graph import SpaceTimeGraph
from graph_module.settings import MAX_CHAIN_OFFSET


class GraphBuilder:
    """Walks the chains of one direction at a time, so that only one direction's flows need to be
    in memory: `walk(fwd, True)`, `walk(bwd, False)`, then `finish()`."""

    def __init__(self, n_frames, height, width, sigma, dir_half_chain, cue_half_chain, cues, device):
        if cues is None:
            cue_half_chain = -1
        self.dir_half_chain = dir_half_chain
        self.graph = SpaceTimeGraph(n_frames, height, width, sigma, MAX_CHAIN_OFFSET, device)
        self.features = NodeFeatureBuilder(n_frames, height, width, dir_half_chain, cue_half_chain,
                                           cues, device)

    def walk(self, flows, forward: bool):
        """Add the edges and features of every chain in one direction. flows is (n-1) x H x W x 2:
        fwd_flows[j] goes from frame j to j+1, bwd_flows[j] from frame j+1 to j."""
        for step in walk_chains(flows, MAX_CHAIN_OFFSET, forward):
            self.graph.add_edges(step.offset, step.first_pivot, step.x, step.y)
            self.features.add_step(step)

    def finish(self):
        """(graph, design): the design is the n x N x (F+1) normalised node features with the
        regression's bias (ones) as last column."""
        design = self.features.finish()
        normalise_blocks(design, self.dir_half_chain)
        return self.graph.finish(), design


def build_graph(fwd_flows, bwd_flows, cues, sigma: float, dir_half_chain: int, cue_half_chain: int):
    """Build (graph, design) from flows already in memory; cues: n x C x H x W or None."""
    n_frames, height, width = fwd_flows.shape[0] + 1, fwd_flows.shape[1], fwd_flows.shape[2]
    builder = GraphBuilder(n_frames, height, width, sigma, dir_half_chain, cue_half_chain, cues,
                           fwd_flows.device)
    builder.walk(fwd_flows, forward=True)
    builder.walk(bwd_flows, forward=False)
    return builder.finish()
