"""LangGraph wiring only: the research graph (graphs.research.build_graph), its state and checkpointer."""
