"""Developer tools, kept apart from the runtime: check, graph, transcripts, a test client."""
