"""Building the graph and the node features in one walk along the optical-flow chains."""
from graph_module.chains import walk_chains
from graph_module.features import NodeFeatureBuilder, normalise_blocks
from graph_module.graph import SpaceTimeGraph
from graph_module.settings import MAX_CHAIN_OFFSET


def build_graph(fwd_flows, bwd_flows, cues, sigma: float, dir_half_chain: int, cue_half_chain: int):
    """Walk every chain once (15 frames each way) and return (graph, design):
    the n x N x (F+1) node features, normalised, with the regression's bias as last column.

    fwd_flows[j]: frame j -> j+1, bwd_flows[j]: frame j+1 -> j, both (n-1) x H x W x 2 at working
    size; cues: n x C x H x W network outputs or None (cue_half_chain is ignored without them)."""
    n_frames = fwd_flows.shape[0] + 1
    height, width = fwd_flows.shape[1:3]
    device = fwd_flows.device
    if cues is None:
        cue_half_chain = -1
    graph = SpaceTimeGraph(n_frames, height, width, sigma, MAX_CHAIN_OFFSET, device)
    builder = NodeFeatureBuilder(n_frames, height, width, dir_half_chain, cue_half_chain, cues, device)
    for flows, forward in ((fwd_flows, True), (bwd_flows, False)):
        for step in walk_chains(flows, MAX_CHAIN_OFFSET, forward):
            graph.add_edges(step.offset, step.first_pivot, step.x, step.y)
            builder.add_step(step)
    design = builder.finish()
    normalise_blocks(design, dir_half_chain)
    return graph, design
