"""Node logic of the research graph: plain functions of (state, deps) -> partial state update."""
