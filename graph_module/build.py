"""Building the graph and the node features in one walk along the optical-flow chains."""
from graph_module.chains import Flows, PivotChains, pivot_blocks, walk_chains
from graph_module.features import NodeFeatures, feature_blocks
from graph_module.graph import SpaceTimeGraph
from graph_module.settings import MAX_CHAIN_OFFSET
from ike_utils.memory import release_free_memory


class GraphBuilder:
    """Walks the chains of a few pivot frames at a time, both directions, adding their edges to the
    graph and filling their node features: `build(fwd_flows, bwd_flows)`, then `finish()`."""

    def __init__(self, n_frames, height, width, sigma, blocks, device, feature_cache_bytes=0):
        self.n_frames, self.height, self.width, self.device = n_frames, height, width, device
        self.graph = SpaceTimeGraph(n_frames, height, width, sigma, MAX_CHAIN_OFFSET, device)
        self.features = NodeFeatures(blocks, n_frames, height, width, device, feature_cache_bytes)

    def build(self, fwd_flows: Flows, bwd_flows: Flows):
        """Add every chain's edges and observe its features. fwd_flows[j] goes from frame j to j+1,
        bwd_flows[j] from frame j+1 to j; both are kept by the features, which walk them again."""
        self.flows = (fwd_flows, bwd_flows)
        for pivots in pivot_blocks(self.n_frames, self.height * self.width):
            chains = PivotChains(pivots, self.n_frames, self.height, self.width, self.features.reach,
                                 self.device)
            for flows, forward in ((fwd_flows, True), (bwd_flows, False)):
                for step in walk_chains(flows, MAX_CHAIN_OFFSET, forward, pivots):
                    self.graph.add_edges(pivots, step.offset, step.first_pivot, step.x, step.y)
                    chains.keep(step)
            self.features.observe(chains)
            # the small tensors kept for each step (jumps, integer edges) scatter through the holes
            # the steps' temporaries leave in the C heap; without this it grows by tens of MiB a block
            release_free_memory()

    def finish(self):
        """(graph, features): a SpaceTimeGraph and the NodeFeatures that make the design."""
        return self.graph.finish(), self.features.finish(*self.flows)


def build_graph(fwd_flows, bwd_flows, cues, sigma: float, dir_half_chain: int, cue_half_chain: int):
    """(graph, design) from (n-1) x H x W x 2 flows in memory, the whole n x N x (F+1) design at
    once (small videos, tests); cues: n x C x H x W or None."""
    n_frames, height, width = fwd_flows.shape[0] + 1, fwd_flows.shape[1], fwd_flows.shape[2]
    builder = GraphBuilder(n_frames, height, width, sigma, feature_blocks(dir_half_chain, cue_half_chain, cues),
                           fwd_flows.device)
    builder.build(Flows.split(fwd_flows), Flows.split(bwd_flows))
    graph, features = builder.finish()
    return graph, features.design()
